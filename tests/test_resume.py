"""--resume: a run stopped at any step and continued from its last checkpoint ends bit-identical
to a run that never stopped (CPU, same thread count), for dense and recovery fine-tuning, every
method that prunes during fine-tuning, the SPP search and its recoveries; also when the process
is killed with SIGKILL at random points, many times, through the CLI."""

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from analysis.store import list_runs, read_run
from pruning.config import ConfigError, load_config
from pruning.methods import variants
from pruning.runner import execute
from tests.conftest import ROOT, SMOKE, spp_smoke_config, spp_smoke_toml

NONDETERMINISTIC = {"speed.parquet"}
"""Latencies are measured, not computed: the only artifact a resumed run may not repeat."""


class Stop(BaseException):
    """Stands in for a kill: raised from the progress callback, it leaves the checkpoints behind."""


def artifacts(path: Path) -> dict:
    """Every table and tensor file of a run, by file name."""
    found = {}
    for file in sorted(path.iterdir()):
        if file.name in NONDETERMINISTIC:
            continue
        if file.suffix == ".parquet":
            found[file.name] = pd.read_parquet(file)
        elif file.suffix == ".safetensors":
            found[file.name] = load_file(str(file))
    return found


def assert_identical(resumed: Path, straight: Path) -> None:
    a, b = artifacts(resumed), artifacts(straight)
    assert a.keys() == b.keys() and a
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
        else:
            assert a[name].keys() == b[name].keys()
            for key in a[name]:
                np.testing.assert_array_equal(a[name][key], b[name][key], err_msg=f"{name}:{key}")


def stop_at(stage_prefix: str, step: int):
    def progress(stage: str, done: int, total: int, loss: float | None = None) -> None:
        if stage.startswith(stage_prefix) and done == step:
            raise Stop

    return progress


def gradual(label: str, steps: int = 24):
    base = load_config(SMOKE, [f"finetune.steps={steps}"])
    return replace(base, prune=replace(base.prune, **{"schedule": "", "preset": "", **variants()[label]}))


@pytest.fixture(scope="module")
def straight_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("straight")


@pytest.mark.parametrize("label, stage, step", [
    ("magnitude", "recover", 6),
    ("SEVENdyn", "prune", 11),
    ("SEVENdyn (authors' schedule)", "prune", 17),
    ("PLATON (authors' schedule)", "prune", 9),
    ("movement", "prune", 13),
    ("soft movement", "prune", 5),
    ("gradual magnitude", "prune", 10),
])
def test_a_run_stopped_mid_fine_tuning_resumes_to_the_same_result(tmp_path, straight_root, label, stage, step):
    config = gradual(label)
    straight = execute(config, straight_root)
    root = tmp_path / "runs"
    execute(config.dense_config(), root)
    with pytest.raises(Stop):
        execute(config, root, on_progress=stop_at(stage, step), checkpoint_every=4)
    assert not (root / config.run_id).exists()  # never listed done
    resumed = execute(config, root, checkpoint_every=4, resume=True)
    assert read_run(resumed).manifest["resumed"] == [{"stage": "fine-tune", "step": step // 4 * 4}]
    assert_identical(resumed, straight)
    assert not (root / ".checkpoints" / config.run_id).exists()  # a finished run leaves none


@pytest.mark.parametrize("stage, step, saved", [("SPP search", 33, "search"), ("recover SPP 50%", 7, "recover-0.5")])
def test_an_spp_run_stopped_in_its_search_or_a_recovery_resumes_to_the_same_result(
        tmp_path, straight_root, stage, step, saved):
    config = spp_smoke_config()
    straight = execute(config, straight_root)
    root = tmp_path / "runs"
    execute(config.dense_config(), root)
    with pytest.raises(Stop):
        execute(config, root, on_progress=stop_at(stage, step), checkpoint_every=5)
    resumed = execute(config, root, checkpoint_every=5, resume=True)
    assert {"stage": saved, "step": step // 5 * 5} in read_run(resumed).manifest["resumed"]
    assert_identical(resumed, straight)


def test_resume_refuses_a_checkpoint_written_with_another_thread_count(tmp_path, monkeypatch):
    config = load_config(SMOKE).dense_config()
    with pytest.raises(Stop):
        execute(config, tmp_path, on_progress=stop_at("fine-tune", 9), checkpoint_every=4)
    monkeypatch.setattr("torch.get_num_threads", lambda: 7)
    with pytest.raises(ConfigError, match=r"--resume: fine-tune.safetensors was written with torch_threads 1 "
                                          r"\(here 7\)"):
        execute(config, tmp_path, checkpoint_every=4, resume=True)


def test_without_resume_a_run_starts_over_and_clears_old_checkpoints(tmp_path):
    config = load_config(SMOKE).dense_config()
    with pytest.raises(Stop):
        execute(config, tmp_path, on_progress=stop_at("fine-tune", 9), checkpoint_every=4)
    assert (tmp_path / ".checkpoints" / config.run_id / "fine-tune.safetensors").exists()
    done = execute(config, tmp_path, checkpoint_every=0)
    assert "resumed" not in read_run(done).manifest
    assert not (tmp_path / ".checkpoints" / config.run_id).exists()


def _cli(root: Path, config: str, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "pruning", "run", config, "--runs", str(root), "--checkpoint-every", "3",
            "--resume", *(a for o in overrides for a in ("--set", o))]


def _saved_steps(root: Path) -> int:
    """The steps the checkpoints of every run in `root` hold, summed (grows as the runs go on)."""
    from safetensors import safe_open

    total = 0
    for file in (root / ".checkpoints").glob("*/*.safetensors"):
        try:
            with safe_open(str(file), framework="np") as handle:
                total += int(handle.metadata()["step"])
        except Exception:  # replaced while read
            pass
    return total


def test_runs_killed_with_sigkill_at_random_points_resume_to_the_same_result(tmp_path):
    """The smoke config with SEVENdyn over 30 steps, then the SPP search on its dense run: each
    process is killed (SIGKILL) at a random moment after a random number of saved steps, six
    times, then left to finish; the runs equal ones computed without a stop."""
    overrides = ("prune.method=\"seven\"", "prune.schedule=\"gradual\"", "finetune.steps=30")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    spp_config = spp_smoke_toml(tmp_path)
    rng = random.Random(0)
    root = tmp_path / "runs"
    kills = 0
    for command in (_cli(root, str(SMOKE), *overrides), _cli(root, str(spp_config))):
        for _ in range(3):
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            start, target = _saved_steps(root), rng.randint(1, 12)
            while process.poll() is None and _saved_steps(root) < start + target:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.3))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        finished = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
    assert kills >= 4
    resumed = {r.run_id: r for r in list_runs(root)}
    assert len(resumed) == 3 and all(r.status == "done" for r in resumed.values())
    straight_root = tmp_path / "straight"
    for command in (_cli(straight_root, str(SMOKE), *overrides), _cli(straight_root, str(spp_config))):
        command[command.index("--checkpoint-every") + 1] = "0"
        subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    for run in list_runs(straight_root):
        assert_identical(resumed[run.run_id].path, run.path)
