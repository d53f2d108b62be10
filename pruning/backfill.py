"""`python -m pruning histograms`: add the kept / pruned histograms (analysis/weight_histograms.py)
to finished pruned runs made before runs recorded them, from the run's masks and scores and the
dense weights it was pruned from. A run whose dense run holds no weights (a shipped one) is
skipped; the table is written by a rename, so a reader never sees half of it."""

import os
from pathlib import Path

from analysis.store import Run, has_table, list_runs, load_tensors
from analysis.weight_histograms import weight_histograms

from .config import config_from_dict
from .runner import dense_weights


def add_weight_histograms(run: Run) -> bool:
    """Write the run's weight_histograms table if it lacks one and can have one; whether it did."""
    manifest = run.manifest
    if run.status != "done" or run.is_path or not manifest.get("base_run") or has_table(run, "weight_histograms") \
            or not (run.path / "masks.safetensors").exists():
        return False
    config = config_from_dict(manifest["config"])
    labels = len(manifest["data"]["label_names"])
    try:
        dense, where = dense_weights(config, labels, run.path.parent / manifest["base_run"])
    except (ValueError, FileNotFoundError):
        return False
    scores = load_tensors(run, "scores") if (run.path / "scores.safetensors").exists() else None
    frame = weight_histograms(dense, load_tensors(run, "masks"), scores, where)
    partial = run.path / f".weight_histograms.{os.getpid()}.tmp"
    frame.to_parquet(partial, index=False)
    os.replace(partial, run.path / "weight_histograms.parquet")
    return True


def backfill(root: str | Path | None = None) -> int:
    """Add the histograms to every run under `root` that can have them; how many were added."""
    return sum(add_weight_histograms(run) for run in list_runs(root))
