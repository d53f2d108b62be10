"""The CLI as a user runs it: run, cache hit, list, show, bad input with nothing written."""

import json
import os
import re
import subprocess
import sys

import pytest

from pruning.bad_inputs import BAD_INPUTS, refusal

from .conftest import ROOT, SMOKE

pytestmark = pytest.mark.slow


def cli(*args, runs):
    env = {**os.environ, "PRUNESCOPE_RUNS": str(runs)}
    return subprocess.run([sys.executable, "-m", "pruning", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_run_list_show_and_cache_hit(tmp_path):
    first = cli("run", SMOKE, "--sparsity", "0.6", runs=tmp_path)
    assert first.returncode == 0, first.stderr
    path = first.stdout.strip().splitlines()[-1]
    manifest = json.loads((tmp_path / os.path.basename(path) / "manifest.json").read_text())
    assert manifest["sparsity"] == 0.6 and manifest["status"] == "done"
    assert "fine-tune dense" in first.stderr  # tqdm progress
    again = cli("run", SMOKE, "--sparsity", "0.6", runs=tmp_path)
    assert again.stdout == first.stdout and "fine-tune" not in again.stderr  # found, not redone
    listed = cli("list", runs=tmp_path)
    assert "magnitude" in listed.stdout and "dense" in listed.stdout
    shown = cli("show", manifest["run_id"][:6], runs=tmp_path)
    assert shown.returncode == 0 and "ffn_in" in shown.stdout and '"accuracy"' in shown.stdout


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.what for c in BAD_INPUTS])
def test_bad_input_exits_2_names_the_field_and_writes_nothing(tmp_path, case):
    """Every bad input of the README's table, through the CLI's own entry point."""
    status, message = refusal(case, tmp_path)
    fields = r"(data|model|prune|finetune|dense|device|--checkpoint-every)[.:]"
    assert status == 2 and re.match(fields, message), message
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_input_exits_2_from_the_shell(tmp_path):
    result = cli("run", SMOKE, "--sparsity", "1.2", runs=tmp_path)
    assert result.returncode == 2 and "prune.sparsity: 1.2 is not allowed" in result.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_two_shards_at_once_compute_a_study_together_and_no_run_twice(tmp_path):
    """Two `sweep --shard I/2` processes on one runs folder: together they finish every run of
    the study, each run once; the dense run both need is fine-tuned by one while the other waits."""
    from analysis.store import list_runs, study_runs

    study = tmp_path / "study.toml"
    study.write_text(SMOKE.read_text() + '\n[sweep]\nstudy = "shards"\nmethods = ["magnitude", "random"]\n'
                     'sparsities = [0.5, 0.8]\nseeds = [0]\n')
    runs = tmp_path / "runs"
    env = {**os.environ, "PRUNESCOPE_RUNS": str(runs)}
    shards = [subprocess.Popen([sys.executable, "-m", "pruning", "sweep", str(study), "--shard", f"{i}/2"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [shard.communicate(timeout=300) for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0], outputs
    assert [out.count("2 of 2 runs done") for out, _ in outputs] == [1, 1]
    assert sum("fine-tune dense" in err for _, err in outputs) == 1
    assert len(study_runs(runs, "shards")) == 4 and len(list_runs(runs)) == 5
    assert not list(runs.glob(".lock-*")) and not list(runs.glob(".tmp-*"))
    refused = cli("sweep", study, "--shard", "2/2", runs=tmp_path / "other")
    assert refused.returncode == 2 and "shard: '2/2' is not allowed; must be I/N with 0 <= I < N" in refused.stderr
