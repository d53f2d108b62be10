"""The CLI as a user runs it: run, cache hit, list, show, bad input with nothing written."""

import json
import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("args, message", [
    (["--method", "snap"], "prune.method: 'snap' is not allowed; allowed: grasp, magnitude"),
    (["--sparsity", "1.2"], "prune.sparsity: 1.2 is not allowed"),
    (["--set", 'data.name="imdb"'], "data.name: unknown data set 'imdb'; allowed:"),
    (["--set", 'model.name="tiny-vit"'], "model.name: tiny-vit is an image model"),
    (["--set", "finetune.lr=-1"], "finetune.lr: -1.0 is not allowed; must be > 0"),
    (["--set", "finetune.lr=inf"], "finetune.lr: inf is not allowed; must be a finite number"),
    (["--device", "tpu"], "device: 'tpu' is not a device; allowed: auto, cpu, cuda or cuda:N"),
])
def test_bad_input_exits_2_names_the_field_and_writes_nothing(tmp_path, args, message):
    result = cli("run", SMOKE, *args, runs=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("content, message", [
    (b"text,label\n" + b"".join(b"review %d,pos\n" % i for i in range(50)), "holds one class ('pos'); a classifier"),
    (b"text,label\n", "holds no examples; a classifier needs examples of at least two classes"),
    (b"text,label\nfine,pos\nawful,neg\n", "leave a split empty (train 2, validation 0, test 0"),
    (b"\xff\xfe\x00\x81binary", "is not a readable CSV table"),
])
def test_bad_data_exits_2_before_a_run_folder_exists(tmp_path_factory, content, message):
    data = tmp_path_factory.mktemp("data") / "table.csv"
    data.write_bytes(content)
    runs = tmp_path_factory.mktemp("runs")
    result = cli("run", SMOKE, "--set", f'data.name="csv:{data}"', runs=runs)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not any(runs.iterdir())


def test_show_unknown_run(tmp_path):
    result = cli("show", "nope", runs=tmp_path)
    assert result.returncode == 2 and "no run" in result.stderr


def test_bundle_import_and_report_from_the_command_line(smoke_study, tmp_path):
    out = tmp_path / "smoke.zip"
    made = cli("bundle", "smoke", "--out", out, runs=smoke_study)
    assert made.returncode == 0, made.stderr and "MB" in made.stdout
    imported = cli("import", out, runs=tmp_path / "runs")
    assert imported.returncode == 0 and "study smoke" in imported.stdout
    assert cli("bundle", "nope", "--out", out, runs=smoke_study).returncode == 2
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    refused = cli("import", tmp_path / "bad.zip", runs=tmp_path / "other")
    assert refused.returncode == 2 and "not a readable zip" in refused.stderr and not (tmp_path / "other").exists()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- report:start -->\nSTALE-TEXT\n<!-- report:end -->\n")
    report = cli("report", "--readme", readme, runs=tmp_path / "runs")
    assert report.returncode == 0 and "STALE-TEXT" not in readme.read_text()
    assert "not testable here" in readme.read_text()  # the smoke study is not one the claims read
    readme.write_text("# nothing generated here\n")
    refused = cli("report", "--readme", readme, runs=tmp_path / "runs")
    assert refused.returncode == 2 and "has none of the blocks" in refused.stderr
    methods = cli("methods", "wanda", runs=tmp_path)
    assert methods.returncode == 0 and "needs: activations" in methods.stdout
    assert cli("methods", "nope", runs=tmp_path).returncode == 2


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
