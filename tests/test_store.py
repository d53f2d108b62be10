"""The run store: atomic writes, validation of broken runs, no pickle anywhere."""

import json

import pandas as pd
import pytest

from analysis.store import RunWriter, list_runs, load_table, load_tensors, read_run

from .conftest import ROOT


def _manifest():
    return {"method": "magnitude", "sparsity": 0.5, "seed": 0, "config": {}}


def test_run_is_invisible_until_finished_then_complete(tmp_path):
    writer = RunWriter(tmp_path, "abc123", _manifest())
    assert list_runs(tmp_path) == []  # the temporary directory is not a run
    writer.table("metrics", pd.DataFrame({"step": [0], "sparsity": [0.5], "split": ["validation"],
                                          "metric": ["accuracy"], "value": [0.8]}))
    writer.table("layers", pd.DataFrame(columns=["name", "layer", "module", "rows", "cols", "numel",
                                                 "nonzero", "sparsity"]))
    path = writer.finish(results={"validation": {"accuracy": 0.8}})
    [run] = list_runs(tmp_path)
    assert run.status == "done" and run.path == path and not any(tmp_path.glob(".tmp-*"))
    assert load_table(run, "metrics")["value"].tolist() == [0.8]
    assert load_tensors(run, "masks") == {}


def test_missing_columns_are_refused_before_writing(tmp_path):
    writer = RunWriter(tmp_path, "abc", _manifest())
    with pytest.raises(ValueError, match="lacks columns"):
        writer.table("metrics", pd.DataFrame({"step": [0]}))


@pytest.mark.parametrize("damage, problem", [
    (lambda p: (p / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda p: (p / "manifest.json").unlink(), "missing"),
    (lambda p: (p / "metrics.parquet").write_bytes(b"garbage"), "metrics.parquet unreadable"),
    (lambda p: _edit(p, schema_version=99), "schema version 99"),
    (lambda p: _edit(p, run_id="other"), "does not match"),
    (lambda p: _edit(p, status="weird"), "unknown status"),
    (lambda p: _edit(p, sparsity="0.5"), "manifest field sparsity is '0.5'; must be int or float or null"),
    (lambda p: _edit(p, sparsity=2), "manifest field sparsity is 2; must be in [0, 1]"),
    (lambda p: _edit(p, created=1700000000), "manifest field created is 1700000000; must be str"),
    (lambda p: _edit(p, created="yesterday"), "manifest field created is 'yesterday'; must be a timestamp"),
    (lambda p: _edit(p, seed=True), "manifest field seed is True; must be int"),
    (lambda p: _edit(p, config=[]), "manifest field config is []; must be dict"),
    (lambda p: _edit(p, results="good"), "manifest field results is 'good'; must be dict"),
])
def test_broken_runs_are_reported_not_raised(smoke_runs, tmp_path, damage, problem):
    import shutil

    good = next(r for r in list_runs(smoke_runs) if r.status == "done")
    copy = tmp_path / good.run_id
    shutil.copytree(good.path, copy)
    damage(copy)
    run = read_run(copy)
    assert run.status == "broken" and problem in run.problem


def _edit(path, **fields):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(fields)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_no_pickle_in_the_code():
    for folder in ("pruning", "analysis", "views", "ui", "bench"):
        for source in (ROOT / folder).rglob("*.py"):
            text = source.read_text()
            assert "import pickle" not in text and "torch.load(" not in text, source


def test_a_study_grows_with_each_sweep_and_keeps_every_command(tmp_path):
    from analysis.store import study_record, write_study

    a, b = dict(run_id="0123456789ab", method="SNIP", sparsity=0.5, seed=0), dict(run_id="ba9876543210")
    write_study(tmp_path, "s", [a], "python -m pruning sweep x.toml --set 'sweep.seeds=[0]'")
    write_study(tmp_path, "s", [b, a], "python -m pruning sweep x.toml --set 'sweep.seeds=[1]'")
    record = study_record(tmp_path, "s")
    assert [e["run_id"] for e in record["runs"]] == ["ba9876543210", "0123456789ab"]
    assert record["command"].count("python -m pruning sweep") == 2
    write_study(tmp_path, "s", [a], "python -m pruning sweep x.toml --set 'sweep.seeds=[0]'")  # a resumed sweep
    assert study_record(tmp_path, "s")["command"] == record["command"]
