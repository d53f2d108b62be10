"""Which methods prune by the sign of their score: per method of a study at one sparsity, its mean
validation accuracy over seeds beside the share of the weights it pruned that scored below 0 and
the share of all its scores below 0 (findings.score_signs, from the runs' score histograms).

A method whose score can be negative (GraSP's θ ⊙ Hḡ, movement's −Σ θ ⊙ g) and that prunes only
negative-scored weights chooses its mask by a sign pattern; the README's table shows which of
them sit at chance."""

import pandas as pd

from .findings import score_signs
from .readme import markdown_table
from .store import has_table, list_studies, load_table, study_runs

COLUMNS = ["method", "seeds", "validation accuracy", "pruned scoring below 0", "all scores below 0"]


def sign_table(root, study: str = "compare", sparsity: float = 0.5) -> pd.DataFrame:
    """One row per method of `study` at `sparsity` whose runs recorded score histograms."""
    rows = []
    for run in study_runs(root, study) if study in list_studies(root) else []:
        if run.manifest.get("sparsity") != sparsity or not has_table(run, "weight_histograms"):
            continue
        signs = score_signs(load_table(run, "weight_histograms"))
        if signs is not None:
            rows.append(dict(method=run.method, accuracy=run.manifest["results"]["validation"]["accuracy"],
                             pruned_below=signs[0], below=signs[1]))
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.DataFrame(rows).groupby("method", sort=False).agg(
        seeds=("accuracy", "size"), accuracy=("accuracy", "mean"), pruned_below=("pruned_below", "mean"),
        below=("below", "mean")).reset_index().sort_values("accuracy")
    return pd.DataFrame({
        "method": frame["method"], "seeds": frame["seeds"],
        "validation accuracy": frame["accuracy"].map("{:.3f}".format),
        "pruned scoring below 0": frame["pruned_below"].map("{:.1%}".format),
        "all scores below 0": frame["below"].map("{:.1%}".format)})[COLUMNS]


def sign_block(root, studies: tuple[str, ...] = ("compare", "budget")) -> str:
    """README markdown: the sign table of each study at 50%, with the command that recomputes it."""
    parts = []
    for study in studies:
        table = sign_table(root, study)
        if table.empty:
            parts.append(f"Study `{study}`: no run at 50% with score histograms in this runs folder.")
            continue
        parts.append(f"Study `{study}` at 50% sparsity (mean over seeds):\n\n"
                     + markdown_table(table.set_index("method")))
    parts.append("Recompute: `python -m pruning report` (from the runs' `weight_histograms` tables).")
    return "\n\n".join(parts)
