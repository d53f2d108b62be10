"""The demo's progress file: read by the dashboard, and a lock against a second demo process."""

import json
import subprocess
import sys

from analysis.demo import STATUS_FILE, demo_status, progress_fraction
from pruning.demo import run_demo


def _status(root, **fields):
    (root / STATUS_FILE).write_text(json.dumps({"state": "running", "run": 0, "runs": 7, "stage": "x",
                                                "step": 0, "steps": 0, **fields}))


def test_a_second_demo_leaves_the_running_one_alone(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _status(tmp_path, pid=sleeper.pid)
        assert run_demo(tmp_path) == []
        assert not [p for p in tmp_path.iterdir() if p.name != STATUS_FILE]  # nothing computed
    finally:
        sleeper.kill()
        sleeper.wait()
    assert demo_status(tmp_path)["state"] == "stopped"  # its process is gone


def test_progress_counts_finished_runs_and_the_current_steps(tmp_path):
    assert demo_status(tmp_path) is None
    assert progress_fraction({"run": 2, "runs": 7, "step": 20, "steps": 40}) == (2 + 0.5) / 7
    assert progress_fraction({"run": 0, "runs": 0, "step": 0, "steps": 0}) == 0.0


def test_the_demo_starts_once_however_many_ask_at_once(tmp_path):
    """Eight dashboard requests at the same moment: one demo process, whose pid all of them get."""
    import os
    import signal
    from concurrent.futures import ThreadPoolExecutor

    from analysis.demo import launch_demo

    with ThreadPoolExecutor(8) as pool:
        pids = set(pool.map(lambda _: launch_demo(tmp_path), range(8)))
    try:
        assert len(pids) == 1 and demo_status(tmp_path)["state"] == "running"
        assert launch_demo(tmp_path) in pids and not list(tmp_path.glob(".lock-*"))
    finally:
        for pid in pids:
            os.killpg(pid, signal.SIGKILL)
