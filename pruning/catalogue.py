"""The registry described for people: `python -m pruning methods [NAME]` and the README's method
table (`--markdown`), both read from the method files' declarations."""

from .methods import METHODS, Method
from .options import describe
from .structured_methods import STRUCTURED_METHODS, StructuredMethod


def _variant_text(method: Method) -> str:
    parts = []
    for v in method.variants:
        where = v.schedule + (" + resurrection" if v.resurrect else "") + (f", {v.allocation}" if v.allocation else "")
        parts.append(f"{v.label} ({where})")
    return "; ".join(parts)


def method_help(method: Method) -> str:
    """A method's summary, variants, needs, allocations and hyperparameters."""
    lines = [f"{method.name}: {method.summary}", f"  variants: {_variant_text(method)}",
             f"  needs: {method.needs}; allocations: {', '.join(method.allocations)}"
             + ("; rewrites the kept weights" if method.rewrites_weights else "")]
    if method.presets:
        lines.append("  presets (prune.preset): " + "; ".join(
            f"{name} ({', '.join(f'{schedule}: {values}' for schedule, values in by_schedule.items())})"
            for name, by_schedule in method.presets.items()))
    for row in describe(method.hparams):
        allowed = f", {row['allowed']}" if row["allowed"] else ""
        lines.append(f"  prune.hparams.{row['name']} = {row['default']!r} ({row['type']}{allowed}): {row['help']}")
    return "\n".join(lines)


def structured_help(method: StructuredMethod) -> str:
    """A structured method's summary, needs and how it searches."""
    search = "one search per target sparsity ([spp] target)" if method.per_target else "one ranking, every sparsity"
    return f"{method.name}: {method.summary}\n  structured ([spp] method); needs: {method.needs}; {search}"


def methods_markdown() -> str:
    """One table row per method: summary, variants (the names studies use), needs, hyperparameters;
    then one row per structured method ([spp] method)."""
    rows = ["| method | score (kept = higher) | variants: schedule | needs | hyperparameters |",
            "| --- | --- | --- | --- | --- |"]
    for method in METHODS.values():
        hparams = ", ".join(f"`{r['name']}` = {r['default']!r}" for r in describe(method.hparams)) or "-"
        summary = method.summary.replace("|", "\\|")
        rows.append(f"| `{method.name}` | {summary} | {_variant_text(method)} | {method.needs} | {hparams} |")
    rows += ["", "| structured method (`[spp] method`) | order of the QK / VO / FFN entries (kept first) | needs | "
                 "searches |", "| --- | --- | --- | --- |"]
    for method in STRUCTURED_METHODS.values():
        searches = "one per target sparsity" if method.per_target else "one for every sparsity"
        name, summary = (text.replace("|", "\\|") for text in (method.name, method.summary))
        rows.append(f"| `{name}` | {summary} | {method.needs} | {searches} |")
    return "\n".join(rows)
