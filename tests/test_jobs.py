"""The dashboard's job queue (analysis/jobs.py): jobs run in order, one at a time, in a worker
process; a queued job can be withdrawn and a running one stopped, and neither leaves a run done."""

import time
from pathlib import Path

import pytest

from analysis import jobs
from analysis.store import list_runs
from pruning.config import ConfigError
from pruning.forms import check, config_files, form_fields, hparam_fields, overrides

FAST = ["dense.steps=0", "finetune.steps=2", "probe.batches=0"]


def _wait(root: Path, until, timeout: float = 240.0) -> list[jobs.Job]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        listed = jobs.jobs(root)
        if until(listed):
            return listed
        time.sleep(0.3)
    raise AssertionError(f"jobs did not get there: {listed}")


def test_jobs_run_in_order_one_at_a_time_and_can_be_cancelled(tmp_path):
    first = jobs.submit(tmp_path, "run", "configs/smoke.toml", [*FAST, "seed=1"])
    withdrawn = jobs.submit(tmp_path, "run", "configs/smoke.toml", [*FAST, "seed=2"])
    second = jobs.submit(tmp_path, "run", "configs/smoke.toml", [*FAST, "seed=3"])
    long = jobs.submit(tmp_path, "run", "configs/smoke.toml", ["dense.steps=100000", "seed=4"])
    jobs.cancel(tmp_path, withdrawn.id)  # still queued behind the first
    _wait(tmp_path, lambda listed: listed[-1].state == "running")
    time.sleep(3)
    jobs.cancel(tmp_path, long.id)
    listed = {j.id: j for j in _wait(tmp_path, lambda listed: all(j.state in jobs.FINISHED for j in listed))}
    assert [listed[j.id].state for j in (first, withdrawn, second, long)] == ["done", "cancelled", "done", "cancelled"]
    assert listed[withdrawn.id].pid is None  # never started
    assert listed[first.id].ended <= listed[second.id].started  # one at a time, in order
    seeds = sorted(r.manifest["seed"] for r in list_runs(tmp_path) if r.status == "done")
    assert seeds == [1, 1, 3, 3]  # dense and pruned of seeds 1 and 3; nothing of 2 or of the stopped 4
    progress = jobs.progress(tmp_path, listed[second.id])
    assert progress["state"] == "done" and progress["stage"].startswith("recover")
    assert str(tmp_path) in jobs.log_tail(tmp_path, listed[second.id])  # the CLI prints the run's folder
    assert not jobs.worker_alive(tmp_path)  # it left when the queue was empty


def test_the_form_is_read_off_the_schema_and_checked_like_the_cli():
    assert config_files()["configs/compare.toml"] == "sweep" and config_files()["configs/smoke.toml"] == "run"
    fields = {f.key: f for f in form_fields("configs/smoke.toml")}
    assert fields["prune.method"].kind == "choice" and "seven" in fields["prune.method"].choices
    assert fields["finetune.decay"].choices == ("linear", "cosine", "constant")
    assert fields["dense.steps"].value == 60 and fields["dense.steps"].kind == "int"
    sweep = {f.key: f for f in form_fields("configs/budget.toml")}
    assert "SEVENdyn (authors' schedule)" in sweep["sweep.methods"].choices
    seven = {f.key: f for f in hparam_fields("seven", {"beta1": 0.5})}
    assert seven["prune.hparams.beta1"].value == 0.5 and "[0, 1)" in seven["prune.hparams.beta1"].help
    sets = overrides(list(fields.values()), {"prune.sparsity": 0.7, "dense.steps": 60, "prune.method": "seven"})
    assert sets == ['prune.method="seven"', "prune.sparsity=0.7"]
    check("configs/smoke.toml", "run", sets)
    with pytest.raises(ConfigError, match=r"prune.sparsity: 1.5 is not allowed; must be in \[0, 1\)"):
        check("configs/smoke.toml", "run", ["prune.sparsity=1.5"])
