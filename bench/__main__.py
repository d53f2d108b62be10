"""python -m bench NAME [--repeats N] [--model minilm|bert-base] [--device cpu|cuda] [--record]"""

import argparse

from . import dashboard, demo, masked_step, rgv_overhead, scoring_time, seven_memory, seven_overhead, spp
from .common import MODELS, configure

BENCHES = {
    "masked_step": masked_step.main, "seven_overhead": seven_overhead.main,
    "rgv_overhead": rgv_overhead.main, "seven_memory": seven_memory.main, "scoring_time": scoring_time.main,
    "spp": spp.main, "dashboard": dashboard.main, "demo": demo.main,
}

parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
parser.add_argument("name", choices=sorted(BENCHES))
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--model", choices=MODELS, default="minilm", help="minilm, or bert-base shapes (random weights)")
parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
parser.add_argument("--record", action="store_true",
                    help="also append the result to bench/results.jsonl (the README's bench tables)")
args = parser.parse_args()
configure(args.model, args.device, args.record)
BENCHES[args.name](repeats=args.repeats)
