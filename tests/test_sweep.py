"""Sweeps: validation before anything runs, one budget for every method, resumable after a kill."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from analysis.store import list_studies, study_runs
from pruning.config import ConfigError, load_config
from pruning.sweep import load_sweep, run_sweep

from .conftest import ROOT, SMOKE


def _sweep_file(tmp_path, sweep: str, name: str = "study.toml"):
    path = tmp_path / name
    path.write_text(SMOKE.read_text() + "\n[sweep]\n" + sweep)
    return path


@pytest.mark.parametrize("sweep, message", [
    ('methods = ["SNAP"]\nsparsities = [0.5]\nseeds = [0]',
     "sweep.methods: 'SNAP' is not allowed; allowed: GraSP, GraSP"),
    ('methods = ["SNIP"]\nsparsities = [1.5]\nseeds = [0]', "sweep.sparsities: 1.5 is not allowed; allowed: decimals"),
    ('methods = ["SNIP"]\nsparsities = [0.5]\nseeds = []', "sweep.seeds: expected a non-empty list"),
    ('methods = ["SNIP", "SNIP"]\nsparsities = [0.5]\nseeds = [0]', "sweep.methods: ['SNIP', 'SNIP'] has repeats"),
    ('methods = ["SNIP"]\nsparsities = [0.5]\nseeds = [0]\nsize = 3', "sweep.size: unknown field; allowed: study"),
    ('methods = ["SNIP"]\nsparsities = [0.5]\nseeds = [0]\nstudy = "a/b"', "sweep.study: 'a/b' must be"),
])
def test_bad_sweeps_are_named_and_nothing_runs(tmp_path, sweep, message):
    path = _sweep_file(tmp_path, sweep)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run_sweep(load_sweep(path), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_run_config_without_sweep_and_a_sweep_file_as_a_run_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"no \[sweep\] table"):
        load_sweep(SMOKE)
    with pytest.raises(ConfigError, match="python -m pruning sweep"):
        load_config(_sweep_file(tmp_path, 'methods = ["SNIP"]\nsparsities = [0.5]\nseeds = [0]'))


def test_every_method_of_a_sweep_gets_the_same_data_and_fine_tuning_budget(tmp_path):
    path = _sweep_file(tmp_path, 'methods = ["magnitude", "SNIP", "GraSP", "FORCE", "PLATON", "soft movement"]\n'
                                 'sparsities = [0.6]\nseeds = [0]\nstudy = "budget"')
    sweep = load_sweep(path, ["prune.iterations=5", "prune.score_batches=3"])
    run_sweep(sweep, tmp_path / "runs")
    assert not sweep.failed and list_studies(tmp_path / "runs") == ["budget"]
    runs = study_runs(tmp_path / "runs", "budget")
    assert [r.method for r in runs] == ["magnitude", "SNIP", "GraSP", "FORCE", "PLATON", "soft movement"]
    budgets = {r.method: r.manifest["budget"] for r in runs}
    assert {(b["train_steps"], b["batch_size"]) for b in budgets.values()} == {(10, 16)}
    assert {m: b["scoring_batches"] for m, b in budgets.items()} == {
        "magnitude": 0, "SNIP": 3, "GraSP": 3, "FORCE": 5, "PLATON": 0, "soft movement": 0}
    assert {r.manifest["data"]["hash"] for r in runs} | {r.manifest["base_run"] for r in runs} == {
        runs[0].manifest["data"]["hash"], runs[0].manifest["base_run"]}
    for run in runs:
        results = run.manifest["results"]
        assert results["kept_weights"] == round(0.4 * results["prunable_weights"])
    created = {r.run_id: r.manifest["created"] for r in runs}
    run_sweep(load_sweep(path, ["prune.iterations=5", "prune.score_batches=3"]), tmp_path / "runs")
    assert {r.run_id: r.manifest["created"] for r in study_runs(tmp_path / "runs", "budget")} == created


def _manifests(runs) -> dict[str, str]:
    """run_id -> creation time of each finished run directory (not the temporary ones)."""
    return {p.parent.name: json.loads(p.read_text())["created"] for p in runs.glob("[!.]*/manifest.json")}


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_redoing_finished_runs(tmp_path):
    path = _sweep_file(tmp_path, 'methods = ["magnitude", "random", "SNIP"]\nsparsities = [0.5, 0.8]\nseeds = [0]')
    runs = tmp_path / "runs"
    env = {**os.environ, "PRUNESCOPE_RUNS": str(runs)}
    command = [sys.executable, "-m", "pruning", "sweep", str(path)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(_manifests(runs)) < 3:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = _manifests(runs)
    assert 3 <= len(before) < 7  # the dense run and at least two pruned runs, not all six
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "study study: 6 of 6 runs done" in done.stdout
    after = _manifests(runs)
    assert len(after) == 7 and all(after[run_id] == created for run_id, created in before.items())
