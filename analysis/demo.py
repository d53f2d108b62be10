"""Start the demo as a separate process and read its progress file (runs/.demo.json)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATUS_FILE = ".demo.json"
LOCK_FILE = ".demo.lock"


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
    """Start `python -m pruning demo` in the background (its log in runs/.demo.log); its pid. One
    at a time: while a demo runs, its pid is returned and nothing starts (the check and the start
    hold runs/.demo.lock, so two clicks at once start one process)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lock = root / LOCK_FILE
    try:
        handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:  # another request is starting it right now
        for _ in range(50):
            status = demo_status(root)
            if status and status.get("state") == "running":
                return status["pid"]
            time.sleep(0.1)
        raise RuntimeError(f"{lock} is held and no demo started; delete it if no dashboard is starting one") from None
    try:
        status = demo_status(root)
        if status and status.get("state") == "running":
            return status["pid"]
        log = open(root / ".demo.log", "ab")  # noqa: SIM115 - handed to the child process
        process = subprocess.Popen(
            [sys.executable, "-m", "pruning", "demo", "--runs", str(root.resolve())], cwd=REPO,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        (root / STATUS_FILE).write_text(json.dumps({"pid": process.pid, "state": "running", "run": 0,
                                                    "runs": 0, "stage": "starting", "step": 0, "steps": 0}))
        return process.pid
    finally:
        os.close(handle)
        lock.unlink()


def progress_fraction(status: dict) -> float:
    """Overall completion in [0, 1]: finished runs plus the current run's step share."""
    runs = max(1, status.get("runs") or 1)
    within = status["step"] / status["steps"] if status.get("steps") else 0.0
    return min(1.0, (status.get("run", 0) + within) / runs)
