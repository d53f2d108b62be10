"""The run store: atomic writes, validation of broken runs, no pickle anywhere."""

import json
import os

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


@pytest.mark.parametrize("source", ["import pickle\n", "import torch\n\ntorch.load('m.pt')\n",
                                    "import numpy as np\n\nnp.load('a.npy')\n", "from pandas import read_pickle\n"])
def test_ruff_refuses_every_way_to_unpickle(tmp_path, source):
    """The banned-API rule of pyproject.toml (TID251), which `./test.sh` runs on the whole code."""
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text(source)
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "TID251", "bad.py"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert ruff.returncode == 1 and "TID251" in ruff.stdout, ruff.stdout + ruff.stderr


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


def _finished(root, run_id, status="done", value=0.8):
    writer = RunWriter(root, run_id, _manifest())
    writer.table("metrics", pd.DataFrame({"step": [0], "sparsity": [0.5], "split": ["validation"],
                                          "metric": ["accuracy"], "value": [value]}))
    writer.table("layers", pd.DataFrame(columns=["name", "layer", "module", "rows", "cols", "numel",
                                                 "nonzero", "sparsity"]))
    return writer.finish(status, results={"validation": {"accuracy": value}})


def test_a_finished_run_is_never_replaced_and_a_failed_one_is(tmp_path):
    _finished(tmp_path, "abc123", value=0.8)
    _finished(tmp_path, "abc123", status="failed", value=0.1)  # a later writer that failed
    _finished(tmp_path, "abc123", value=0.5)  # or finished again
    [run] = list_runs(tmp_path)
    assert run.status == "done" and load_table(run, "metrics")["value"].tolist() == [0.8]
    _finished(tmp_path, "def456", status="failed")
    _finished(tmp_path, "def456", value=0.7)  # a rerun replaces a failed run
    assert read_run(tmp_path / "def456").status == "done" and not any(tmp_path.glob(".tmp-*"))


def _finish_at(root, run_id, start, value):
    import time

    time.sleep(max(0.0, start - time.time()))
    _finished(root, run_id, value=value)


def test_writers_finishing_the_same_run_at_once_leave_one_finished_run(tmp_path):
    """Four processes finish one run_id at the same instant, three times over: none crashes, one
    run is there, done and whole, and no temporary folder is left."""
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        run_id = f"race{attempt:08d}"
        start = time.time() + 3.0
        workers = [context.Process(target=_finish_at, args=(tmp_path, run_id, start, v / 10)) for v in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert [w.exitcode for w in workers] == [0, 0, 0, 0]
        run = read_run(tmp_path / run_id)
        assert run.status == "done" and len(load_table(run, "metrics")) == 1
    assert not any(tmp_path.glob(".tmp-*"))


def test_stale_temporary_folders_of_dead_processes_are_swept(tmp_path):
    import socket
    import subprocess
    import sys

    from analysis.store import sweep_stale

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    stale = tmp_path / f".tmp-abc123-{host}-{dead.stdout.strip()}"
    live = tmp_path / f".tmp-def456-{host}-{os.getpid()}"
    elsewhere = tmp_path / f".tmp-ghi789-other-host-{dead.stdout.strip()}"
    for folder in (stale, live, elsewhere):
        folder.mkdir()
    assert sweep_stale(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and elsewhere.exists()


@pytest.mark.parametrize("damage, problem", [
    (lambda b: b[:-10], "truncated or padded"),
    (lambda b: b + b"\0" * 4, "truncated or padded"),
    (lambda b: b[:6], "header length"),
    (lambda b: b[:8] + b"#" + b[9:], "header is not valid JSON"),
])
def test_every_damaged_safetensors_file_marks_its_run_broken(smoke_runs, tmp_path, damage, problem):
    """Masks, scores, the dense model and the SPP path: each file of each kind in the smoke runs."""
    import shutil

    files = {f.name: f for run in list_runs(smoke_runs) for f in run.path.glob("*.safetensors")}
    assert {"masks.safetensors", "scores.safetensors", "model.safetensors", "path.safetensors"} <= set(files)
    for name, file in files.items():
        copy = tmp_path / name.split(".")[0] / file.parent.name
        shutil.copytree(file.parent, copy)
        (copy / name).write_bytes(damage((copy / name).read_bytes()))
        run = read_run(copy)
        assert run.status == "broken" and name in run.problem and problem in run.problem, (name, run.problem)


def test_a_damaged_dense_run_is_recomputed_when_a_pruned_run_needs_it(tmp_path):
    from pruning.config import load_config
    from pruning.runner import execute

    config = load_config("configs/smoke.toml", ["finetune.steps=2"])
    dense = execute(config.dense_config(), tmp_path)
    model = dense / "model.safetensors"
    model.write_bytes(model.read_bytes()[:-100])
    assert read_run(dense).status == "broken"
    pruned = execute(config, tmp_path)
    assert read_run(dense).status == "done" and read_run(pruned).status == "done"


def test_a_symlinked_run_folder_is_broken_and_nothing_is_read_through_it(smoke_runs, tmp_path):
    from analysis.store import study_runs, write_study
    from analysis.tables import final_metrics

    outside = next(r for r in list_runs(smoke_runs) if r.status == "done")
    root = tmp_path / "runs"
    root.mkdir()
    (root / outside.run_id).symlink_to(outside.path, target_is_directory=True)
    [run] = list_runs(root)
    assert run.status == "broken" and "symbolic link" in run.problem and run.manifest == {}
    assert final_metrics([run])["val_accuracy"].isna().all()
    write_study(root, "s", [{"run_id": outside.run_id}, {"run_id": "../" + outside.run_id}])
    assert study_runs(root, "s") == []
