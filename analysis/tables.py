"""Tables built from runs: one row per run with its final metrics, ready for figures."""

import json

import pandas as pd

from .store import Run

RUN_COLUMNS = [
    "run_id", "label", "status", "method", "color", "sparsity", "seed", "model", "data", "val_accuracy",
    "val_f1", "val_mcc", "test_accuracy", "kept_weights", "kept_fraction", "duration_s", "created", "problem",
]


def final_metrics(runs: list[Run]) -> pd.DataFrame:
    """One row per run (broken ones included, with their problem) from the manifests alone."""
    rows = []
    for run in runs:
        m = run.manifest
        results = m.get("results", {})
        val, test = results.get("validation", {}), results.get("test", {})
        kept, total = results.get("kept_weights"), results.get("prunable_weights")
        rows.append({
            "run_id": run.run_id, "label": run.label, "status": run.status,
            "method": run.method, "color": run.color, "sparsity": m.get("sparsity"), "seed": m.get("seed"),
            "model": m.get("model"), "data": (m.get("data") or {}).get("name"),
            "val_accuracy": val.get("accuracy"), "val_f1": val.get("f1"), "val_mcc": val.get("mcc"),
            "test_accuracy": test.get("accuracy"), "kept_weights": kept,
            "kept_fraction": kept / total if kept is not None and total else None,
            "duration_s": m.get("duration_s"), "created": m.get("created"), "problem": run.problem,
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def layer_share(layers: pd.DataFrame, module: str) -> float | None:
    """Sparsity of one module type over all its matrices (None: the run did not prune it)."""
    rows = layers[layers["module"] == module]
    return None if rows.empty else float(1 - rows["nonzero"].sum() / rows["numel"].sum())


def train_loss(metrics: pd.DataFrame) -> pd.DataFrame:
    """step, value: the training loss of a run's fine-tuning, from its metrics table."""
    rows = metrics[(metrics["split"] == "train") & (metrics["metric"] == "loss")]
    return rows[["step", "value"]].reset_index(drop=True)


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        out.update(_flat(value, f"{name}.") if isinstance(value, dict) and value else {name: value})
    return out


def config_diff(a: dict, b: dict) -> pd.DataFrame:
    """The config fields (section.field, nested) whose values differ between two runs: field, a, b."""
    left, right = _flat(a), _flat(b)
    rows = [dict(field=k, a=repr(left.get(k, "—")), b=repr(right.get(k, "—")))
            for k in sorted(left.keys() | right.keys()) if left.get(k, "—") != right.get(k, "—")]
    return pd.DataFrame(rows, columns=["field", "a", "b"])


NOT_A_SETTING = ("seed", "prune.sparsity", "spp.target", "spp.recover")
"""Config keys that a method's runs may differ in and still be pooled: seeds and the sparsity axis."""
MEASUREMENT_PREFIXES, MEASUREMENT_SUFFIXES = ("probe.",), (".eval_every",)
"""Keys that change what a run records, not its result: the noise probe runs after fine-tuning, in
eval mode, with its own seed; evaluations run in eval mode without gradients."""


def pooled_settings(runs: list[Run]) -> dict[str, dict[str, list[str]]]:
    """method -> {config key: its distinct values, as text} for every key besides NOT_A_SETTING and
    the measurement-only keys in which the method's finished runs differ: pooled as seeds of one
    method, their mean mixes set-ups."""
    configs: dict[str, list[dict]] = {}
    for run in runs:
        if run.status == "done":
            configs.setdefault(run.method, []).append(_flat(run.manifest.get("config") or {}))
    found = {}
    for method, flats in configs.items():
        keys = sorted(key for key in set().union(*flats) - set(NOT_A_SETTING)
                      if not key.startswith(MEASUREMENT_PREFIXES) and not key.endswith(MEASUREMENT_SUFFIXES))
        values = {key: sorted({_text(flat.get(key)) for flat in flats}) for key in keys}
        differing = {key: seen for key, seen in values.items() if len(seen) > 1}
        if differing:
            found[method] = differing
    return found


def _text(value) -> str:
    """A config value as its TOML file would show it; a key a run lacks as "—"."""
    return "—" if value is None else value if isinstance(value, str) else json.dumps(value)
