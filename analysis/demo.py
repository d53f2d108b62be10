"""Start the demo as a separate process and read its progress file (runs/.demo.json)."""

import json
import subprocess
import sys
from pathlib import Path

from .store import process_alive, run_lock, write_json

REPO = Path(__file__).resolve().parent.parent
STATUS_FILE = ".demo.json"


def demo_status(root: Path) -> dict | None:
    """The demo's last reported progress, with `state` 'stopped' if its process died silently."""
    try:
        status = json.loads((Path(root) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if status.get("state") == "running" and not process_alive(status.get("pid")):
        status["state"] = "stopped"
    return status


def launch_demo(root: Path) -> int:
    """Start `python -m pruning demo` in the background (its log in runs/.demo.log); its pid. One
    at a time: while a demo runs, its pid is returned and nothing starts (the check and the start
    hold the store's run lock named "demo", so two clicks at once start one process)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with run_lock(root, "demo", poll=0.1):
        status = demo_status(root)
        if status and status.get("state") == "running":
            return status["pid"]
        log = open(root / ".demo.log", "ab")  # noqa: SIM115 - handed to the child process
        process = subprocess.Popen(
            [sys.executable, "-m", "pruning", "demo", "--runs", str(root.resolve())], cwd=REPO,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        write_json(root / STATUS_FILE, {"pid": process.pid, "state": "running", "run": 0, "runs": 0,
                                        "stage": "starting", "step": 0, "steps": 0})
        return process.pid


def progress_fraction(status: dict) -> float:
    """Overall completion in [0, 1]: finished runs plus the current run's step share."""
    runs = max(1, status.get("runs") or 1)
    within = status["step"] / status["steps"] if status.get("steps") else 0.0
    return min(1.0, (status.get("run", 0) + within) / runs)
