"""The SEVEN paper's claims, each tested on our runs: a table (mean ± std over seeds), the
seed-paired verdict against every baseline (analysis/paired.py) and one line: held, not held,
or not testable here (and why). `python -m pruning report` renders them into the README
between markers; the Reproduction page shows them with links to their runs.

A claim that method A beats B is held when A is ahead (interval above 0) in at least half of
the (baseline, sparsity) pairs and behind in none; a claim that B does not help A (no_worse) is
held when A is behind in none; not held otherwise. Where the paper's
numbers could not be read (the source text we have lost its tables), only its direction is
compared.
"""

from dataclasses import dataclass, field

import pandas as pd

from .after_pruning import model_rgv
from .compare import accuracy_table
from .paired import paired, paired_grid
from .readme import markdown_table
from .store import Run, has_table, list_studies, load_table, study_record, study_runs
from .tables import final_metrics


@dataclass(frozen=True)
class ClaimSpec:
    key: str
    title: str
    paper: str
    study: str
    method: str
    baselines: tuple[str, ...]
    metric: str = "val_accuracy"
    higher_is_better: bool = True
    label: str = ""
    """what the metric is, for people"""
    no_worse: bool = False
    """the claim is that the baselines do not beat the method (ties hold it), not that it beats them"""
    said_by: str = "The paper"
    control: "ClaimSpec | None" = None
    """a question of ours, in its own study, that tells our set-up from the method where the claim
    fails; shown beneath the claim, its verdict does not count towards the claim's"""


CLAIMS = (
    ClaimSpec("pre", "SEVENpre against the one-shot baselines (the paper's Table I in our form)",
              "Pruned before fine-tuning, SEVENpre is more accurate than SNIP, GraSP, magnitude and random.",
              "compare", "SEVENpre", ("SNIP", "GraSP", "magnitude", "random"), label="validation accuracy"),
    ClaimSpec("pre-budget", "SEVENpre against SNIP at a fair budget (400 steps of recovery)",
              "Pruned before fine-tuning, SEVENpre is more accurate than SNIP.", "budget", "SEVENpre", ("SNIP",),
              label="validation accuracy"),
    ClaimSpec("iterative", "SEVENpre against iterating the noise-blind score",
              "SEVEN's gain comes from correcting the gradients, not from iterating: it beats Iter-SNIP and FORCE.",
              "compare", "SEVENpre", ("Iter-SNIP", "FORCE"), label="validation accuracy"),
    ClaimSpec("dyn", "SEVENdyn against pruning during fine-tuning, at a fair budget (400 steps)",
              "Pruned during fine-tuning, SEVENdyn is more accurate than movement, soft movement, PLATON and "
              "gradual magnitude.", "budget", "SEVENdyn (authors' schedule)",
              ("movement (authors' schedule)", "soft movement (authors' schedule)", "PLATON (authors' schedule)",
               "gradual magnitude"), label="validation accuracy",
              control=ClaimSpec(
                  "dyn-window", "Control: SEVENdyn in PLATON's pruning window",
                  "each method's authors' schedule prunes over its own window (SEVENdyn 5% to 24% of the steps, "
                  "PLATON 8% to 60%); given PLATON's window, SEVENdyn is at least as accurate as PLATON, so a loss "
                  "to PLATON in the budget study is the shorter window, not the score.", "budget-window",
                  "SEVENdyn (authors' schedule)", ("PLATON (authors' schedule)",), label="validation accuracy",
                  no_worse=True, said_by="Our question")),
    ClaimSpec("trec", "Another task: TREC (6 classes)",
              "SEVEN's advantage holds across tasks.", "trec", "SEVENpre",
              ("SNIP", "GraSP", "magnitude", "random", "Iter-SNIP"), label="validation accuracy"),
    ClaimSpec("sms", "Another task: SMS spam (imbalanced, by MCC)",
              "SEVEN's advantage holds across tasks.", "sms", "SEVENpre",
              ("SNIP", "GraSP", "magnitude", "random", "Iter-SNIP"), metric="val_mcc", label="validation MCC"),
    ClaimSpec("ablation", "The correction coefficient (the paper's Table IV in our form)",
              "Both moments together (c = m̂/(√v̂ + ε)) beat either alone, and the moments of |g| (the authors' "
              "code) are no worse than those of g.", "ablation", "SEVENpre",
              ("SEVENpre (first moment only)", "SEVENpre (second moment only)", "SEVENpre (signed)"),
              label="validation accuracy"),
    ClaimSpec("resurrection", "Mask resurrection (the paper's Fig. 6 in our form)",
              "SEVENpre needs no resurrection: letting pruned weights return does not help it.", "ablation",
              "SEVENpre", ("SEVENpre + resurrection",), label="validation accuracy", no_worse=True),
    ClaimSpec("rgv", "Gradient noise after pruning (the paper's Fig. 2 and 5 in our form)",
              "After SNIP, GraSP and FORCE the gradients of the pruned model vary more during fine-tuning; after "
              "SEVEN they stay steadier.", "compare", "SEVENpre", ("SNIP", "GraSP", "FORCE"),
              metric="rgv_median", higher_is_better=False,
              label="median RGV of the kept weights over the recovery steps (lower is steadier)"),
    ClaimSpec("sentinels", "Sentinels kept",
              "At equal density SEVEN keeps more sentinel weights (steady saliency, SNR >= 1) than SNIP does.",
              "compare", "SEVENpre", ("SNIP",), metric="sw_kept",
              label="share of sentinels kept, from the probe at the dense weights"),
)


@dataclass
class Claim:
    spec: ClaimSpec
    verdict: str
    why: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    run_ids: list[str] = field(default_factory=list)
    command: str = ""
    """the command that recomputes the study"""
    control: "Claim | None" = None


def rgv_median(run: Run) -> float | None:
    """Median over the run's fine-tuning steps of the whole model's RGV (after_pruning.model_rgv)."""
    if not has_table(run, "finetune_rgv"):
        return None
    ratios = model_rgv(load_table(run, "finetune_rgv"))["rgv"]
    return float(ratios.median()) if not ratios.empty else None


def sentinels_kept(run: Run) -> float | None:
    """Share of the probe's sentinel weights that the run's mask keeps."""
    if not has_table(run, "sentinels"):
        return None
    sentinels = load_table(run, "sentinels")
    return float(sentinels["sw_kept"].sum() / sentinels["sw"].sum()) if sentinels["sw"].sum() else None


MEASURES = {"rgv_median": rgv_median, "sw_kept": sentinels_kept}


def study_table(runs: list[Run], metric: str) -> pd.DataFrame:
    """final_metrics of `runs`, with `metric` computed from their tables when it is a measure."""
    table = final_metrics(runs)
    if metric in MEASURES:
        table[metric] = [MEASURES[metric](run) for run in runs]
    return table


def oriented(result: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """Paired results turned so that a positive difference and "ahead" mean better (for a
    lower-is-better metric: negated, the interval flipped, ahead and behind swapped; n/a stays)."""
    if higher_is_better:
        return result
    flipped = result.assign(mean=-result["mean"], low=-result["high"], high=-result["low"])
    return flipped.assign(verdict=result["verdict"].replace({"ahead": "behind", "behind": "ahead"}))


def evaluate_claim(spec: ClaimSpec, root) -> Claim:
    """The claim tested on the runs of its study under `root`, with its control's test."""
    claim = _tested(spec, root)
    if spec.control is not None:
        claim.control = evaluate_claim(spec.control, root)
    return claim


def _tested(spec: ClaimSpec, root) -> Claim:
    if spec.study not in list_studies(root):
        return Claim(spec, "not testable here", f"the study {spec.study} is not in this runs folder")
    runs = study_runs(root, spec.study)
    table = study_table(runs, spec.metric)
    methods = [spec.method, *spec.baselines]
    table = table[table["method"].isin(methods) & table[spec.metric].notna()]
    present = set(table["method"])
    if spec.method not in present or not present & set(spec.baselines):
        return Claim(spec, "not testable here", f"the study {spec.study} has no finished runs of {spec.method} "
                                                f"and its baselines yet")
    rows = [oriented(paired(table, spec.method, baseline, spec.metric), spec.higher_is_better)
            .assign(baseline=baseline) for baseline in spec.baselines]
    comparisons = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    decided = comparisons[comparisons["verdict"] != "n/a"] if not comparisons.empty else comparisons
    counts = decided["verdict"].value_counts() if not decided.empty else pd.Series(dtype=int)
    ahead, behind, total = int(counts.get("ahead", 0)), int(counts.get("behind", 0)), len(decided)
    if comparisons.empty:
        verdict, why = "not testable here", "no sparsity where both ran with the same seeds"
    elif total == 0:
        verdict, why = "not testable here", (f"one seed so far ({len(comparisons)} single-seed differences): no "
                                             "interval, no verdict")
    else:
        low, high = int(decided["seeds"].min()), int(decided["seeds"].max())
        seeds = f"{low} seeds" if low == high else f"{low} to {high} seeds"
        verdict = "held" if behind == 0 and (spec.no_worse or ahead * 2 >= total) else "not held"
        why = (f"{spec.method} ahead in {ahead} of {total} seed-paired comparisons, behind in {behind}, tied in "
               f"{total - ahead - behind} (95% bootstrap intervals over {seeds}; with so few an interval "
               "excludes 0 only when every seed agrees)")
        untested = [b for b in spec.baselines if b not in set(decided["baseline"])]
        if untested:
            why += f"; not yet against {', '.join(untested)} (fewer than two paired seeds)"
    return Claim(spec, verdict, why, accuracy_table(table, spec.metric).loc[lambda t: _order(t.index, methods)],
                 comparisons, sorted(table["run_id"]), study_record(root, spec.study).get("command", ""))


def _order(index, methods: list[str]) -> list[str]:
    return [m for m in methods if m in index]


def evaluate(root=None) -> list[Claim]:
    return [evaluate_claim(spec, root) for spec in CLAIMS]


def comparison_grid(claim: Claim) -> pd.DataFrame:
    """Baselines x sparsities: the seed-paired difference (method − baseline, oriented so that
    positive is better) with its interval and verdict."""
    return paired_grid(claim.comparisons, "baseline")


def render_markdown(claims: list[Claim], costs: pd.DataFrame | None = None) -> str:
    """Every claim as README markdown: the claim, our numbers, the paired differences, the
    verdict; then what each study cost, when `costs` has rows."""
    parts = []
    for claim in claims:
        parts += _claim_markdown(claim)
        if claim.control is not None:
            parts += _claim_markdown(claim.control)
    if costs is not None and not costs.empty:
        parts.append("What each study cost on the 2-core CPU (the manifests' timings, median per run, so that a "
                     "run paused or slowed by the shared machine does not count its wait; hours = runs x the "
                     "median run; the dense runs not counted):\n\n" + markdown_table(costs.set_index("study")))
    return "\n\n".join(parts)


def _claim_markdown(claim: Claim) -> list[str]:
    spec = claim.spec
    parts = [f"**{spec.title}.** {spec.said_by}: {spec.paper} **Verdict: {claim.verdict}** ({claim.why})."]
    if not claim.table.empty:
        parts.append(f"{spec.label[0].upper() + spec.label[1:]}, mean ± std (seeds), study `{spec.study}`:\n\n"
                     + markdown_table(claim.table.rename_axis("method")))
        parts.append(f"{spec.method} minus each baseline (positive = {spec.method} better), seed-paired, "
                     "[95% bootstrap interval]:\n\n" + markdown_table(comparison_grid(claim).rename_axis("baseline")))
        parts.append(f"Recompute: `{claim.command}`")
    return parts


STUDIES = ("compare", "pooler", "ablation", "budget", "trec", "sms")
"""The studies the claims and the README cite, in the order of scripts/studies.sh."""


def study_costs(root=None) -> pd.DataFrame:
    """What each study cost: its finished runs, their hours (runs x the median run) and the median
    seconds per run spent pruning, fine-tuning, evaluating and probing (from the manifests'
    timings). Medians, not sums: a run paused or slowed by a shared machine is one outlier."""
    rows = []
    for study in (s for s in STUDIES if s in list_studies(root)):
        runs = study_runs(root, study)
        timings = pd.DataFrame([r.manifest.get("timings", {}) for r in runs])
        hours = len(runs) * pd.Series([r.manifest.get("duration_s") or 0 for r in runs]).median() / 3600
        rows.append({"study": study, "runs": len(runs), "hours": f"{hours:.1f}",
                     **{f"{stage} s/run": f"{timings[stage].median():.0f}" if stage in timings else "-"
                        for stage in ("prune", "fine-tune", "evaluate", "probe")}})
    return pd.DataFrame(rows)


def summary(claims: list[Claim]) -> pd.DataFrame:
    """One row per claim: title, verdict, why."""
    return pd.DataFrame([dict(claim=c.spec.title, study=c.spec.study, verdict=c.verdict, why=c.why) for c in claims])


__all__ = ["CLAIMS", "Claim", "comparison_grid", "evaluate", "render_markdown", "summary"]
