"""The claims report on a real (tiny) study named like the shipped one: tables, paired verdicts,
the markdown the README carries, and the Reproduction page."""

import pytest
from streamlit.testing.v1 import AppTest

from analysis.report import CLAIMS, evaluate, evaluate_claim, render_markdown, study_costs, summary

from .conftest import ROOT, SMOKE


@pytest.fixture(scope="module")
def compare_study(tmp_path_factory):
    from pruning.sweep import load_sweep, run_sweep

    root = tmp_path_factory.mktemp("report")
    path = root / "compare.toml"
    path.write_text(SMOKE.read_text() + '\n[sweep]\nstudy = "compare"\n'
                    'methods = ["SEVENpre", "SNIP", "GraSP", "FORCE"]\nsparsities = [0.5, 0.8]\nseeds = [0, 1]\n')
    sweep = run_sweep(load_sweep(path, ["prune.iterations=10"]), root)
    assert not sweep.failed
    return root


def test_claims_read_their_study_and_say_why(compare_study):
    claims = {c.spec.key: c for c in evaluate(compare_study)}
    assert set(claims) == {spec.key for spec in CLAIMS}
    pre = claims["pre"]
    assert pre.verdict in ("held", "not held")
    assert set(pre.comparisons["baseline"]) == {"SNIP", "GraSP"}  # magnitude and random did not run here
    assert len(pre.comparisons) == 4 and (pre.comparisons["seeds"] == 2).all()
    assert list(pre.table.index) == ["SEVENpre", "SNIP", "GraSP"]
    assert "ahead in" in pre.why and "compare.toml" in pre.command
    assert claims["rgv"].verdict in ("held", "not held")  # every run recorded its fine-tuning RGV
    assert claims["dyn"].verdict == "not testable here" and "budget" in claims["dyn"].why
    assert claims["dyn"].control.verdict == "not testable here" and "budget-window" in claims["dyn"].control.why
    costs = study_costs(compare_study)
    assert list(costs["study"]) == ["compare"] and costs["runs"].item() == 16
    assert costs["prune s/run"].item() != "-" and costs["probe s/run"].item() != "-"  # every run timed its stages
    text = render_markdown(list(claims.values()), costs)
    assert "**Verdict: not testable here**" in text and "| SEVENpre |" in text and "| compare | 16 |" in text
    assert len(summary(list(claims.values()))) == len(CLAIMS)


def test_reproduction_page_shows_each_claim_with_its_verdict_and_runs(monkeypatch, compare_study):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(compare_study))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("views/reproduction.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.subheader) == len(CLAIMS)
    verdicts = [box.value for box in (*at.success, *at.error, *at.warning)]
    controls = sum(spec.control is not None for spec in CLAIMS)
    assert len(verdicts) == len(CLAIMS) + controls and any("not testable here" in v for v in verdicts)
    assert sum("Our question:" in m.value for m in at.markdown) == controls
    links = [m.value for m in at.markdown if "layer-sparsity?run=" in m.value]
    assert links and all("](layer-sparsity?run=" in line for line in links[0].splitlines())


def test_a_no_worse_claim_is_held_by_ties_and_lost_only_by_a_loss(compare_study):
    from dataclasses import replace

    beats = next(spec for spec in CLAIMS if spec.key == "iterative")
    spec = replace(beats, baselines=("SNIP", "GraSP", "FORCE"))
    strict, lenient = evaluate_claim(spec, compare_study), evaluate_claim(replace(spec, no_worse=True), compare_study)
    verdicts = strict.comparisons["verdict"]
    assert lenient.verdict == ("held" if not (verdicts == "behind").any() else "not held")
    if (verdicts == "tie").all():
        assert strict.verdict == "not held" and lenient.verdict == "held"


def test_a_control_is_tested_on_its_own_study_and_does_not_count(compare_study):
    from dataclasses import replace

    pre = next(spec for spec in CLAIMS if spec.key == "pre")
    control = replace(pre, key="control", title="Control: against SNIP alone", baselines=("SNIP",), no_worse=True,
                      said_by="Our question")
    claim = evaluate_claim(replace(pre, study="elsewhere", control=control), compare_study)
    assert claim.verdict == "not testable here" and claim.control.verdict in ("held", "not held")
    assert set(claim.control.comparisons["baseline"]) == {"SNIP"} and (claim.control.comparisons["seeds"] == 2).all()
    text = render_markdown([claim])
    assert "**Control: against SNIP alone.** Our question:" in text and "| SNIP |" in text
    assert len(summary([claim])) == 1
