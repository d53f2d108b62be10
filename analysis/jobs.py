"""Jobs started from the dashboard: `python -m pruning run|sweep CONFIG --set ...` commands
queued in runs/.jobs/ and computed one at a time, in order, by a worker process
(`python -m pruning worker`), so that a page never trains and two clicks never start two
trainings at once. A job continues from its checkpoints (--resume) if it was stopped before.

    runs/.jobs/<id>.json           the job: kind, config file, overrides, state, pid, exit code
    runs/.jobs/<id>.log            what the command printed
    runs/.jobs/<id>.progress.json  its progress (pruning/progress.py)

state: queued -> running -> done | failed | cancelled
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .store import process_alive, run_lock, write_json

REPO = Path(__file__).resolve().parent.parent
FOLDER = ".jobs"
WORKER = "jobs-worker"
KINDS = ("run", "sweep")
FINISHED = ("done", "failed", "cancelled")


@dataclass
class Job:
    id: str
    kind: str
    config: str
    overrides: list[str] = field(default_factory=list)
    state: str = "queued"
    created: float = field(default_factory=time.time)
    pid: int | None = None
    returncode: int | None = None
    cancel: bool = False
    started: float | None = None
    ended: float | None = None

    @property
    def command(self) -> list[str]:
        """The CLI command the job runs (without the runs folder and progress file)."""
        return ["python", "-m", "pruning", self.kind, self.config, *(a for o in self.overrides for a in ("--set", o))]


def _folder(root: Path) -> Path:
    return Path(root) / FOLDER


def _write(root: Path, job: Job) -> None:
    write_json(_folder(root) / f"{job.id}.json", asdict(job))


def read_job(root: Path, job_id: str) -> Job:
    job = Job(**json.loads((_folder(root) / f"{job_id}.json").read_text()))
    if job.state == "running" and not process_alive(job.pid) and not worker_alive(root):  # killed with its worker
        job.state = "failed"
    return job


def jobs(root: Path) -> list[Job]:
    """Every job, oldest first."""
    found = []
    for path in _folder(root).glob("*.json"):
        if path.name.endswith(".progress.json"):
            continue
        try:
            found.append(read_job(root, path.stem))
        except (OSError, ValueError, TypeError):
            continue  # being replaced, or not a job
    return sorted(found, key=lambda j: j.created)


def submit(root: Path, kind: str, config: str, overrides: list[str]) -> Job:
    """Queue a job (its config already validated by the caller) and make sure a worker runs."""
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    job = Job(f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}", kind, config, list(overrides))
    _write(root, job)
    ensure_worker(root)
    return job


def cancel(root: Path, job_id: str) -> None:
    """A queued job never starts; a running one is stopped (SIGTERM to its process group)."""
    job = read_job(root, job_id)
    if job.state == "queued":
        job.state, job.ended = "cancelled", time.time()
    elif job.state == "running":
        job.cancel = True
        _write(root, job)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGTERM)
        return
    _write(root, job)


def worker_alive(root: Path) -> bool:
    lock = Path(root) / f".lock-{WORKER}"
    try:
        _, _, pid = lock.read_text().rpartition("-")
    except OSError:
        return False
    return pid.isdigit() and process_alive(int(pid))


def ensure_worker(root: Path) -> None:
    """Start `python -m pruning worker` unless one is running (or there is nothing queued)."""
    if worker_alive(root) or not any(j.state == "queued" for j in jobs(root)):
        return
    subprocess.Popen([sys.executable, "-m", "pruning", "worker", "--runs", str(Path(root).resolve())], cwd=REPO,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)


def work(root: Path) -> int:
    """Run queued jobs, oldest first, until none is left; the number run. One worker at a time."""
    root = Path(root).resolve()
    count = 0
    with run_lock(root, WORKER):
        while queued := [j for j in jobs(root) if j.state == "queued"]:
            _run(root, queued[0])
            count += 1
    return count


def _run(root: Path, job: Job) -> None:
    folder = _folder(root)
    command = [sys.executable, *job.command[1:], "--runs", str(root), "--resume",
               "--progress", str(folder / f"{job.id}.progress.json")]
    with open(folder / f"{job.id}.log", "ab") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        job.state, job.pid, job.started = "running", process.pid, time.time()
        _write(root, job)
        code = process.wait()
    job = read_job(root, job.id) if (folder / f"{job.id}.json").exists() else job
    job.state = "cancelled" if job.cancel else "done" if code == 0 else "failed"
    job.returncode, job.ended = code, time.time()
    _write(root, job)


def progress(root: Path, job: Job) -> dict | None:
    """The job's last progress report, with `eta_s` (seconds left in its stage) when it can tell."""
    try:
        status = json.loads((_folder(root) / f"{job.id}.progress.json").read_text())
    except (OSError, ValueError):
        return None
    step, steps = status.get("step") or 0, status.get("steps") or 0
    elapsed = status.get("updated", 0) - status.get("stage_started", 0)
    status["eta_s"] = elapsed / step * (steps - step) if step and steps > step else None
    return status


def log_tail(root: Path, job: Job, lines: int = 15) -> str:
    """The last `lines` lines of the job's output (progress bars' carriage returns as lines)."""
    try:
        text = (_folder(root) / f"{job.id}.log").read_bytes()[-20_000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])
