"""Cached loading for the Compare page: a study's (or a model · data pair's) runs, and the
method x method matrices, which read every run's masks or scores once per selection."""

from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.compare import mask_agreement, pruned_by_magnitude, score_correlation
from analysis.store import Run, list_studies, load_tensors, read_run, runs_root, study_runs
from ui.common import runs

ALL_RUNS = "all runs: "


def scopes() -> list[str]:
    """Studies first (made by `python -m pruning sweep`), then every model · data pair."""
    pairs = sorted({f"{r.manifest['model']} · {r.manifest['data']['name']}" for r in runs() if r.status == "done"})
    return [f"study: {s}" for s in list_studies(runs_root())] + [ALL_RUNS + p for p in pairs]


def scope_runs(scope: str) -> list[Run]:
    """The finished runs of a scope; a study's runs come with the dense runs they pruned. SPP
    paths and sensitivity scans are left out: they have no single sparsity (the Solution path and
    Layer sparsity pages show them)."""
    if scope.startswith(ALL_RUNS):
        model, data = scope.removeprefix(ALL_RUNS).split(" · ")
        return [r for r in runs() if r.status == "done" and r.at_one_sparsity
                and r.manifest["model"] == model
                and r.manifest["data"]["name"] == data]
    chosen = study_runs(runs_root(), scope.removeprefix("study: "))
    bases = {r.manifest["base_run"] for r in chosen if r.manifest.get("base_run")}
    dense = [read_run(runs_root() / b) for b in sorted(bases)]
    return chosen + [r for r in dense if r.status == "done"]


@st.cache_data(show_spinner="Comparing masks…", max_entries=16)
def agreement(paths: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Jaccard of kept sets for (method, run path) pairs."""
    return mask_agreement({name: load_tensors(read_run(Path(path)), "masks") for name, path in paths})


@st.cache_data(show_spinner="Ranking scores…", max_entries=16)
def correlation(paths: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Spearman of scores on a seeded sample, for (method, run path) pairs."""
    return score_correlation({name: load_tensors(read_run(Path(path)), "scores") for name, path in paths})


@st.cache_data(show_spinner="Binning the pruned weights by size…", max_entries=32)
def magnitude_profile(path: str) -> pd.DataFrame | None:
    """pruned_by_magnitude of a run against its dense run's weights; None if either is missing."""
    run = read_run(Path(path))
    dense = runs_root(Path(path).parent) / str(run.manifest.get("base_run"))
    masks, weights = load_tensors(run, "masks"), load_tensors(read_run(dense), "model")
    if not masks or not weights:
        return None
    return pruned_by_magnitude(weights, masks)
