"""Start the demo as a separate process and read its progress file (runs/.demo.json)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATUS_FILE = ".demo.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, TypeError):
        return False
    return True


def demo_status(root: Path) -> dict | None:
    """The demo's last reported progress, with `state` 'stopped' if its process died silently."""
    try:
        status = json.loads((Path(root) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if status.get("state") == "running" and not _alive(status.get("pid")):
        status["state"] = "stopped"
    return status


def launch_demo(root: Path) -> int:
    """Start `python -m pruning demo` in the background (its log in runs/.demo.log); its pid."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    log = open(root / ".demo.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [sys.executable, "-m", "pruning", "demo", "--runs", str(root.resolve())], cwd=REPO,
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    (root / STATUS_FILE).write_text(json.dumps({"pid": process.pid, "state": "running", "run": 0,
                                                "runs": 0, "stage": "starting", "step": 0, "steps": 0}))
    return process.pid


def progress_fraction(status: dict) -> float:
    """Overall completion in [0, 1]: finished runs plus the current run's step share."""
    runs = max(1, status.get("runs") or 1)
    within = status["step"] / status["steps"] if status.get("steps") else 0.0
    return min(1.0, (status.get("run", 0) + within) / runs)
