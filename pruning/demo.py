"""The built-in demo: configs/demo.toml's dense run, each demo method at each sparsity, and
the solution path of configs/spp.toml from the same dense run.

Progress goes to the terminal (tqdm) and to runs/.demo.json, which the dashboard polls.
Runs already done are found by their run_id and skipped, so an interrupted demo resumes.
"""

import os
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from analysis.demo import STATUS_FILE, demo_status
from analysis.store import runs_root

from .config import RunConfig, load_config
from .progress import ProgressFile
from .runner import execute, run_title

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DEMO_CONFIG = CONFIGS / "demo.toml"
DEMO_METHODS = ("magnitude", "random")
DEMO_SPARSITIES = (0.5, 0.7, 0.9)
SPP_CONFIG = CONFIGS / "spp.toml"
NOISE_CONFIG = CONFIGS / "fashion_noise.toml"
NOISE_MODELS = ("tiny-vit", "small-cnn")


def demo_configs() -> list[RunConfig]:
    """The dense run first, then every method x sparsity, all from configs/demo.toml, and the
    SPP path (configs/spp.toml); then the transformer-vs-CNN gradient-noise pair on
    Fashion-MNIST (configs/fashion_noise.toml)."""
    base = load_config(DEMO_CONFIG)
    pruned = [replace(base, prune=replace(base.prune, method=m, sparsity=s))
              for m in DEMO_METHODS for s in DEMO_SPARSITIES]
    noise = [load_config(NOISE_CONFIG, [f'model.name="{name}"']) for name in NOISE_MODELS]
    return [base.dense_config(), *pruned, load_config(SPP_CONFIG), *noise]


def run_demo(root: str | Path | None = None, device: str = "cpu") -> list[Path]:
    """Compute (or find) every demo run on `device`; returns their directories."""
    root = runs_root(root)
    root.mkdir(parents=True, exist_ok=True)
    current = demo_status(root)
    if current and current["state"] == "running" and current.get("pid") != os.getpid():
        print(f"the demo is already being computed (pid {current['pid']}); see {root}/.demo.json")
        return []
    configs = demo_configs()
    progress = ProgressFile(root / STATUS_FILE, runs=len(configs))
    done: list[Path] = []
    try:
        for index, config in enumerate(tqdm(configs, desc="demo runs", unit="run")):
            progress.next_run(index, len(configs), run_title(config))
            done.append(execute(config, root, on_progress=progress, device=device))
    except BaseException as error:
        progress.end("failed", error=repr(error))
        raise
    progress.end("done", run=len(configs))
    return done
