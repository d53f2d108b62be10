"""The structured comparison: SPP's read-offs against every structured baseline on one dense
model, read from the runs' tables (no torch).

Every structured run ranks the same QK / VO / FFN entries and is read off under the same
parameter budget (analysis/solution_path.py), so its accuracy at structured sparsity s is
comparable across methods; a per-target run (the lasso: one search per sparsity) counts at its
target only. The cost of K sub-networks (the SPP paper's Fig. 1, as measured here): a ranking
method pays one search plus K read-offs, a per-target method K searches.
"""

import numpy as np
import pandas as pd

from .compare import accuracy_table
from .labels import DENSE_COLOR, method_order
from .path_figures import KIND_LABELS, block_label, first_dropped_ratio
from .solution_path import KINDS, SolutionPath
from .store import Run, list_studies, load_table, study_record, study_runs

PHASES = {"readoff": "no recovery", "recovered": "recovered"}


def structured_runs(runs: list[Run]) -> list[Run]:
    return [r for r in runs if r.status == "done" and r.is_path]


def searched(run: Run) -> bool:
    """A structured run whose method searched (SPP): it has checkpoints of Γ and gradient statistics."""
    return run.manifest.get("budget", {}).get("search_steps", 0) > 0


def _target(run: Run) -> float | None:
    return run.manifest["config"]["spp"]["target"] if run.manifest.get("per_target") else None


def accuracy_rows(runs: list[Run]) -> pd.DataFrame:
    """One row per run, phase and sparsity: method, color, seed, sparsity, phase, val_accuracy,
    run_id, status; plus one "dense" row per dense model (sparsity 0, both phases)."""
    rows, dense = [], {}
    for run in structured_runs(runs):
        metrics = load_table(run, "metrics")
        accuracy = metrics[metrics["metric"] == "accuracy"]
        target = _target(run)
        for split, phase in PHASES.items():
            part = accuracy[accuracy["split"] == split]
            if target is not None:
                part = part[np.isclose(part["sparsity"], target)]
            rows += [dict(method=run.method, color=run.color, seed=run.manifest["seed"], sparsity=float(s),
                          phase=phase, val_accuracy=float(v), run_id=run.run_id, status="done")
                     for s, v in zip(part["sparsity"], part["value"], strict=True)]
        base = accuracy[accuracy["split"] == "dense"]
        if not base.empty:
            dense[run.manifest["base_run"]] = (run.manifest["seed"], float(base["value"].iloc[0]))
    for base_run, (seed, value) in dense.items():
        rows += [dict(method="dense", color=DENSE_COLOR, seed=seed, sparsity=0.0, phase=phase, val_accuracy=value,
                      run_id=base_run, status="done") for phase in PHASES.values()]
    return pd.DataFrame(rows, columns=["method", "color", "seed", "sparsity", "phase", "val_accuracy", "run_id",
                                       "status"])


def latency_rows(runs: list[Run]) -> pd.DataFrame:
    """Per run and recover sparsity: recovered accuracy beside the measured latency (ms) of the
    dense, masked and compressed models, in PyTorch and (CPU runs) onnxruntime."""
    rows = []
    for run in structured_runs(runs):
        speed, metrics = load_table(run, "speed"), load_table(run, "metrics")
        recovered = metrics[(metrics["split"] == "recovered") & (metrics["metric"] == "accuracy")]
        for sparsity, group in speed.groupby("sparsity"):
            accuracy = recovered[np.isclose(recovered["sparsity"], sparsity)]["value"]
            latency = dict(zip(group["model"], group["latency_ms"], strict=True))
            rows.append(dict(method=run.method, color=run.color, seed=run.manifest["seed"], sparsity=float(sparsity),
                             accuracy=float(accuracy.iloc[0]) if len(accuracy) else np.nan, **{
                                 f"{model} ms": latency.get(model, np.nan) for model in (
                                     "dense", "masked", "compressed", "dense onnxruntime", "compressed onnxruntime")}))
    return pd.DataFrame(rows)


def kept_shares(path: SolutionPath, sparsity: float, budget: str = "global") -> pd.DataFrame:
    """Share of each block's QK dims, VO dims and FFN neurons kept at `sparsity` (blocks x kinds,
    labelled as the Solution path page labels them)."""
    masks = path.block_masks(path.masks_at(sparsity, budget))
    shares = {label: [float(m.mean()) for m in masks[kind]] for kind, label in zip(KINDS, KIND_LABELS, strict=True)}
    return pd.DataFrame(shares, index=[block_label(b) for b in path.blocks])


def kept_entries(path: SolutionPath, sparsity: float, budget: str = "global") -> dict[str, np.ndarray]:
    """The kept entries at `sparsity`, as the mask dict compare.mask_agreement reads."""
    return {"entries": path.masks_at(sparsity, budget)}


def subnetwork_costs(runs: list[Run], counts: tuple[int, ...] = (1, 3, 5, 7)) -> pd.DataFrame:
    """Seconds to obtain K sub-networks, per method (mean over its runs): a ranking method one
    search plus K read-offs; a per-target method K searches (each its mean search time). Recovery,
    the same per sub-network for every method, is left out; the search excludes the diagnostic
    evaluations of SPP's checkpoints."""
    timed = [dict(method=r.method, color=r.color, per_target=bool(r.manifest.get("per_target")),
                  readoffs=len(r.manifest["config"]["spp"]["grid"]), **r.manifest["timings"])
             for r in structured_runs(runs) if "search" in r.manifest.get("timings", {})]
    rows = []
    for method, group in pd.DataFrame(timed, columns=["method", "color", "per_target", "readoffs", "search",
                                                      "read-off"]).groupby("method"):
        search = group["search"].mean()
        per_readoff = (group["read-off"] / group["readoffs"]).mean()
        for k in counts:
            seconds = k * search if group["per_target"].iloc[0] else search + k * per_readoff
            rows.append(dict(method=method, color=group["color"].iloc[0], subnetworks=k, seconds=float(seconds),
                             searches=k if group["per_target"].iloc[0] else 1))
    return pd.DataFrame(rows, columns=["method", "color", "subnetworks", "seconds", "searches"])


REPORTED = (0.1, 0.3, 0.5, 0.7)
"""Sparsities of the README's structured tables (every method, the lasso included, has them)."""


def _md(text) -> str:
    """A table cell: a pipe in a method's name would end the cell."""
    return str(text).replace("|", "\\|")


def render_structured_markdown(runs: list[Run], command: str) -> str:
    """The README's structured block: accuracy per method and phase at REPORTED (mean ± std,
    seeds), each method against Taylor seed-paired, latency at 50%, and the cost of K
    sub-networks; from the runs of the structured study."""
    from .paired import against, paired_grid

    rows = accuracy_rows(runs)
    rows = rows[rows["method"] != "dense"]
    rows = rows[rows["sparsity"].round(2).isin(REPORTED)]
    if rows.empty:
        return "Not computed yet: `python -m pruning sweep configs/structured.toml`."
    tables = {phase: accuracy_table(rows[rows["phase"] == phase]) for phase in PHASES.values()}
    columns = sorted({c for t in tables.values() for c in t.columns}, key=lambda c: int(c.rstrip("%")))
    lines = ["Validation accuracy at structured sparsity, mean ± std (seeds), study `structured`:", "",
             "| method | phase | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 2)]
    lines += [f"| {_md(method)} | {phase} | " + " | ".join(t.reindex(columns=columns).fillna("").loc[method]) + " |"
              for method in method_order(set(rows["method"])) for phase, t in tables.items() if method in t.index]
    for phase in PHASES.values():
        versus = against(rows[rows["phase"] == phase], "Taylor (structured)")
        if versus.empty:
            continue
        cells = paired_grid(versus, "method")
        lines += ["", f"Each method minus Taylor ({phase}), seed-paired, [95% bootstrap interval]:", "",
                  "| method | " + " | ".join(cells.columns) + " |", "|" + " --- |" * (len(cells.columns) + 1)]
        lines += [f"| {_md(m)} | " + " | ".join(row) + " |" for m, row in zip(cells.index, cells.to_numpy(),
                                                                              strict=True)]
    latency = latency_rows(runs)
    half = latency[np.isclose(latency["sparsity"], 0.5)] if not latency.empty else latency
    if not half.empty:
        lines += ["", "Latency of one batch at 50% (median over runs, ms; speed-up = dense / compressed):", "",
                  "| runtime | dense | compressed | speed-up |", "| --- | --- | --- | --- |"]
        for runtime, prefix in (("PyTorch", ""), ("onnxruntime", " onnxruntime")):
            dense, small = half[f"dense{prefix} ms"].median(), half[f"compressed{prefix} ms"].median()
            if np.isfinite(small):
                lines.append(f"| {runtime} | {dense:.1f} | {small:.1f} | {dense / small:.2f}x |")
    ratios = [(r.method, first_dropped_ratio(SolutionPath.load(r.path / "path.safetensors")))
              for r in structured_runs(runs) if searched(r)]
    ratios = pd.DataFrame([x for x in ratios if np.isfinite(x[1])], columns=["method", "ratio"])
    if not ratios.empty:
        lines += ["", "Median mean-|∂L/∂M| of the first 5% an order removes, over the median entry's (< 1: it "
                  "removes small-gradient entries first), mean over seeds:", "", "| order | ratio | seeds |",
                  "| --- | --- | --- |"]
        lines += [f"| {_md(m)} | {g['ratio'].mean():.2f} | {len(g)} |" for m, g in ratios.groupby("method")]
    costs = subnetwork_costs(runs, counts=(1, len(REPORTED)))
    if not costs.empty:
        table = costs.pivot(index="method", columns="subnetworks", values="seconds")
        lines += ["", "Seconds to obtain K sub-networks (search plus read-offs; recovery left out):", "",
                  "| method | " + " | ".join(f"K = {k}" for k in table.columns) + " |",
                  "|" + " --- |" * (len(table.columns) + 1)]
        lines += [f"| {_md(m)} | " + " | ".join(f"{v:.0f}" for v in row) + " |"
                  for m, row in zip(table.index, table.to_numpy(), strict=True)]
    return "\n".join([*lines, "", f"Recompute: `{command}`" if command else ""]).rstrip()


def structured_block(root=None, study: str = "structured") -> str:
    """render_structured_markdown of `study` under `root` (the runs folder); a note when absent."""
    if study not in list_studies(root):
        return render_structured_markdown([], "")
    return render_structured_markdown(study_runs(root, study), study_record(root, study).get("command", ""))

