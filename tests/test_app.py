"""Every page through Streamlit's AppTest: with runs, with none, and with a corrupt run directory."""

import base64
import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from .conftest import ROOT

PAGES = ("views/runs.py", "views/layer_sparsity.py")


def _app(monkeypatch, runs) -> AppTest:
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(runs))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def _open(at: AppTest, page: str) -> AppTest:
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _array(value) -> list:
    """A Plotly array from a chart spec, decoded when Plotly sent it as typed binary."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_empty_state_explains_and_offers_the_demo(monkeypatch, tmp_path, page):
    at = _open(_app(monkeypatch, tmp_path), page)
    assert any("No runs yet" in i.value for i in at.info)
    assert [b.label for b in at.button] == ["Compute the demo"]


def test_runs_page_plots_accuracy_against_sparsity_with_the_dense_line(monkeypatch, smoke_runs):
    at = _open(_app(monkeypatch, smoke_runs), PAGES[0])
    chart, curves = _charts(at)
    names = {trace["name"] for trace in chart["data"] if "name" in trace}
    assert names == {"magnitude", "random"}
    assert any(a["text"].startswith("dense") for a in chart["layout"]["annotations"])
    xs = {trace["name"]: _array(trace["x"]) for trace in chart["data"] if "name" in trace}
    assert xs["magnitude"] == [50.0, 90.0]
    table = at.dataframe[0].value
    assert len(table) == 7  # the SPP path and the sensitivity scan are listed, without a sparsity
    assert table.loc[table["method"] == "SPP", "sparsity"].isna().all()
    stages = [t["name"] for t in curves["data"] if t.get("showlegend", True)]  # the picked run's history
    assert stages[0] == "dense fine-tuning" and len(stages) == 2
    dense_loss, pruned_loss = (_array(t["x"]) for t in curves["data"] if t.get("showlegend", True))
    assert min(pruned_loss) > max(dense_loss)  # after the dense stage, on one step axis
    at.multiselect(key="methods").set_value(["random"]).run()
    assert {t["name"] for t in _charts(at)[0]["data"] if "name" in t} == {"random"}


def test_layer_page_shows_the_picked_run_and_keeps_it_in_the_url(monkeypatch, smoke_runs):
    at = _app(monkeypatch, smoke_runs)
    at.run()
    picker = at.sidebar.selectbox(key="run_picker")
    index = next(i for i, o in enumerate(picker.options) if "90%" in o and "magnitude" in o)
    picker.select_index(index).run()
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    at.switch_page(PAGES[1]).run()
    assert not at.exception
    chart, sensitivity, by_module, *histograms = _charts(at)
    assert len(histograms) == 2  # the kept / pruned histograms of one matrix: |θ| and the score
    assert sensitivity["data"][0]["x"][:3] == ["query", "key", "value"]  # the scan of the same dense run
    assert len(by_module["data"]) == 7 and at.select_slider(key="scan_sparsity").value == 0.5
    assert any("alone costs" in m.value and "Spearman" in m.value for m in at.markdown)
    heat = chart["data"][0]
    assert heat["type"] == "heatmap" and heat["x"][:3] == ["query", "key", "value"]
    assert heat["y"] == ["layer 0", "layer 1", "after blocks"]
    assert at.metric[1].value == "90.0%"
    assert run_id in at.metric[0].proto.label or run_id in chart["layout"]["title"]["text"]


def test_corrupt_run_is_shown_as_broken_and_the_others_still_listed(monkeypatch, smoke_runs, tmp_path):
    """A truncated manifest and one with fields of the wrong type (a string sparsity, a number
    where the timestamp belongs): both listed as broken with the reason; every page still opens."""
    shutil.copytree(smoke_runs, tmp_path / "runs")
    broken = tmp_path / "runs" / "deadbeef0000"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ truncated")
    typed = tmp_path / "runs" / "0badc0ffee00"
    good = next(p for p in (tmp_path / "runs").iterdir() if (p / "layers.parquet").exists())
    shutil.copytree(good, typed)
    manifest = json.loads((typed / "manifest.json").read_text())
    (typed / "manifest.json").write_text(json.dumps({**manifest, "run_id": typed.name, "sparsity": "0.5",
                                                     "created": 1700000000}))
    at = _open(_app(monkeypatch, tmp_path / "runs"), PAGES[0])
    assert any("deadbeef0000" in w.value and "not valid JSON" in w.value for w in at.warning)
    assert any("0badc0ffee00" in w.value and "sparsity is '0.5'" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == 7
    for page in ("views/compare.py", "views/layer_sparsity.py", "views/solution_path.py", "views/structured.py",
                 "views/gradient_noise.py", "views/sentinels.py", "views/reproduction.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_a_link_with_query_params_reopens_the_same_view(monkeypatch, smoke_runs):
    at = _app(monkeypatch, smoke_runs)
    at.query_params["methods"] = "random"
    at.query_params["metric"] = "validation MCC"
    _open(at, PAGES[0])
    assert at.multiselect(key="methods").value == ["random"]
    assert at.selectbox(key="metric").value == "validation MCC"
    chart = _charts(at)[0]
    assert {t["name"] for t in chart["data"]} == {"random"}
    assert chart["layout"]["yaxis"]["title"]["text"] == "validation MCC"


def test_a_link_to_a_run_opens_that_run(monkeypatch, smoke_runs):
    from analysis.store import list_runs

    target = next(r for r in list_runs(smoke_runs) if r.method == "random" and r.manifest["sparsity"] == 0.9)
    at = _app(monkeypatch, smoke_runs)
    at.query_params["run"] = target.run_id
    at.run()
    at.switch_page(PAGES[1]).run()
    assert at.metric[1].value == "90.0%" and at.metric[0].value == "random · 0"


def test_a_link_to_a_run_the_page_cannot_show_says_so(monkeypatch, smoke_runs):
    """A stale ?run= (not in the runs folder) and a structured run on a page of runs at one
    sparsity: each is named in a warning, and the page opens on the most recent pruned run."""
    from analysis.store import list_runs

    spp = next(r for r in list_runs(smoke_runs) if r.is_path)
    for wanted, why in (("0123456789ab", "is not in the runs folder"), (spp.run_id, "has nothing this page shows")):
        at = _app(monkeypatch, smoke_runs)
        at.query_params["run"] = wanted
        at.run()  # the Runs page's sidebar picker reads the link first
        assert any(wanted in w.value and why in w.value for w in at.sidebar.warning), wanted
        at.switch_page(PAGES[1]).run()
        assert at.metric[1].value != "0.0%"  # a pruned run, not the dense one


@pytest.mark.parametrize("page", ["views/gradient_noise.py", "views/sentinels.py"])
def test_noise_pages_show_the_probe_of_the_picked_run(monkeypatch, smoke_runs, page):
    from analysis.store import list_runs

    target = next(r for r in list_runs(smoke_runs) if r.method == "magnitude" and r.manifest["sparsity"] == 0.5)
    at = _app(monkeypatch, smoke_runs)
    at.query_params["run"] = target.run_id
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    charts = _charts(at)
    if page.endswith("gradient_noise.py"):
        after_lines, after_boxes, before_boxes = charts[0], charts[1], charts[2]
        assert [t["name"] for t in after_lines["data"]] == [target.label]  # RGV over its fine-tuning steps
        assert after_lines["data"][0]["line"]["color"] == target.color
        assert {t["type"] for t in after_boxes["data"]} == {"box"}
        assert [t["name"] for t in before_boxes["data"]] == [target.label]  # the probe, before pruning
        at.radio(key="noise_subset").set_value("kept").run()
        assert not at.exception and _charts(at)[2]["data"][0]["type"] == "box"
        bars = charts[-1]
        assert {t["name"] for t in bars["data"]} == {"before pruning (dense weights, fixed)",
                                                     "after pruning (its fine-tuning)"}
    else:
        assert [t["type"] for t in charts[0]["data"]] == ["scattergl"] * 3
        assert any(target.label in m.value for m in at.markdown)  # its SW/TSW shares are shown
        assert len(charts) == 3  # scatter, selection breakdown, shares


def test_layer_page_shows_how_far_a_method_that_rewrites_weights_moved_the_kept_ones(monkeypatch, tmp_path):
    from dataclasses import replace

    from pruning.config import load_config
    from pruning.runner import execute

    from .conftest import SMOKE

    base = load_config(SMOKE)
    execute(replace(base, prune=replace(base.prune, method="sparsegpt", allocation="module")), tmp_path)
    at = _open(_app(monkeypatch, tmp_path), PAGES[1])
    charts = _charts(at)
    assert len(charts) == 4 and "relative change" in json.dumps(charts[1]["data"][0]["colorbar"])
    changes = np.array(_array(charts[1]["data"][0]["z"]), dtype=float)
    assert np.nanmin(changes) > 0  # every matrix was reconstructed
    assert any("rewrites the weights it keeps" in c.value for c in at.caption)


def test_demo_progress_shows_only_while_the_demo_runs(monkeypatch, tmp_path):
    """A running demo (its pid alive) shows its live progress; a finished one shows nothing, so no
    fragment keeps refreshing after it is done; a dead one says it stopped."""
    import os

    from analysis.demo import STATUS_FILE

    status = {"pid": os.getpid(), "state": "running", "run": 1, "runs": 8, "stage": "fine-tune dense",
              "step": 10, "steps": 250}
    for state, progress, errors in (("running", 1, 0), ("done", 0, 0), ("failed", 0, 1)):
        (tmp_path / STATUS_FILE).write_text(json.dumps({**status, "state": state}))
        at = _open(_app(monkeypatch, tmp_path), PAGES[0])
        bars = [p for p in at.get("progress") if "Computing the demo: run 2 of 8" in p.proto.text]
        assert (len(bars), len(at.error)) == (progress, errors), state


def test_two_runs_side_by_side_show_their_difference_and_config_diff(monkeypatch, smoke_runs):
    at = _open(_app(monkeypatch, smoke_runs), "views/two_runs.py")
    labels = at.selectbox(key="a").options
    a = next(o for o in labels if "magnitude · 50%" in o)
    b = next(o for o in labels if "random · 90%" in o)
    at.selectbox(key="a").set_value(a)
    at.run()
    at.selectbox(key="b").set_value(b)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    charts = _charts(at)
    difference = next(c for c in charts if c["layout"]["title"]["text"].startswith("B − A"))
    z = np.array(_array(difference["data"][0]["z"]), dtype=float)
    assert np.nanmean(z) == pytest.approx(0.4, abs=0.05)  # random at 90% prunes about 40 points more than 50%
    diff = at.dataframe[0].value
    assert {"prune.method", "prune.sparsity"} <= set(diff["field"])


FINDINGS = {  # page -> a fragment of its computed finding on the smoke runs (None: the page has none there)
    "views/runs.py": "keeps the most", "views/compare.py": "keeps the most", "views/layer_sparsity.py": "pruned",
    "views/solution_path.py": "Without recovery", "views/gradient_noise.py": None, "views/sentinels.py": None,
    "views/two_runs.py": "B prunes", "views/reproduction.py": "claims", "views/new_run.py": None,
    "views/structured.py": None,
}


@pytest.mark.parametrize("page", FINDINGS)
def test_every_page_says_how_to_read_it_and_its_finding(monkeypatch, smoke_runs, page):
    at = _open(_app(monkeypatch, smoke_runs), page)
    assert any(e.label == "How to read this" for e in at.expander), page
    found = [m.value for m in at.markdown if m.value.startswith(":material/lightbulb:")]
    if FINDINGS[page]:
        assert found and FINDINGS[page] in found[0], (page, found)
