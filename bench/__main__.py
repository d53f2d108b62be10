"""python -m bench NAME [--repeats N]"""

import argparse

from . import masked_step, rgv_overhead, scoring_time, seven_memory, seven_overhead, spp

BENCHES = {
    "masked_step": masked_step.main, "seven_overhead": seven_overhead.main,
    "rgv_overhead": rgv_overhead.main, "seven_memory": seven_memory.main, "scoring_time": scoring_time.main,
    "spp": spp.main,
}

parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
parser.add_argument("name", choices=sorted(BENCHES))
parser.add_argument("--repeats", type=int, default=7)
args = parser.parse_args()
BENCHES[args.name](repeats=args.repeats)
