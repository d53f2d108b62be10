"""torchrun: two CPU processes (gloo) splitting every batch compute the scores, masks, gradient
statistics and SPP path that one process computes on the whole batch, and only rank 0 writes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from analysis.store import list_runs
from tests.conftest import ROOT, SMOKE, spp_smoke_toml

SETTINGS = ("dense.steps=0", "finetune.steps=3", "probe.batches=4")
"""Pruned from the initial weights (the dense run trains with dropout, which each process draws
for its own rows: fine-tuning under torchrun matches one process in distribution only)."""


def _run(config: Path, root: Path, processes: int, *sets: str) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] \
        if processes > 1 else [sys.executable]
    command = [*launcher, "-m", "pruning", "run", str(config), "--runs", str(root),
               *(a for s in (*SETTINGS, *sets) for a in ("--set", s))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def largest_differences(one: Path, two: Path) -> dict[str, float]:
    """Per artifact of two runs of one config, the largest absolute difference (masks: the share
    of entries that differ)."""
    out = {}
    for file in sorted(one.iterdir()):
        if file.suffix == ".safetensors":
            a, b = load_file(str(file)), load_file(str(two / file.name))
            for key in a:
                x, y = a[key].astype(np.float64), b[key].astype(np.float64)
                out[f"{file.stem}:{key}"] = float(np.mean(x != y)) if file.stem == "masks" else \
                    float(np.nanmax(np.abs(x - y), initial=0.0))
        elif file.stem == "rgv" and file.suffix == ".parquet":  # the probe's (fine-tuning draws dropout)
            a, b = pd.read_parquet(file), pd.read_parquet(two / file.name)
            numeric = a.select_dtypes("number").columns
            relative = (a[numeric] - b[numeric]).abs() / b[numeric].abs().clip(lower=1e-12)
            out[file.stem] = float(np.nanmax(relative.to_numpy(), initial=0.0))
    return out


@pytest.mark.parametrize("sets", [("prune.method=\"seven\"",), ("prune.method=\"grasp\"",), ()],
                         ids=["SEVENpre", "GraSP", "SPP"])
def test_two_processes_compute_what_one_computes(tmp_path, sets):
    config = spp_smoke_toml(tmp_path) if not sets else SMOKE
    _run(config, tmp_path / "one", 1, *sets)
    _run(config, tmp_path / "two", 2, *sets)
    one = {r.run_id: r for r in list_runs(tmp_path / "one")}
    two = {r.run_id: r for r in list_runs(tmp_path / "two")}
    assert one.keys() == two.keys() and all(r.status == "done" for r in two.values())
    pruned = next(r for r in one.values() if r.method != "dense")
    differences = largest_differences(pruned.path, two[pruned.run_id].path)
    print(pruned.method, differences)
    for name, value in differences.items():
        if name.startswith("masks"):
            assert value <= 1e-3, (name, value)
        elif name.startswith("scores"):
            assert value <= 2e-3, (name, value)  # float16 scores / their max
        elif name.startswith("path"):
            assert value <= 1e-4 or name.endswith(("join_step", "rank", "priority", "steps")), (name, value)
        else:
            assert value <= 1e-3, (name, value)
    assert two[pruned.run_id].manifest["machine"]["processes"] == 2
