"""A process's progress as a small JSON file the dashboard polls (the demo's runs/.demo.json,
a job's runs/.jobs/<id>.progress.json): state, run i of n, stage, step of steps, the training
loss, and when the stage began (analysis/jobs.py reads an ETA off it). Written by a rename, so a
reader never sees half a file."""

import os
import time
from pathlib import Path

from analysis.store import write_json


class ProgressFile:
    """on_progress for execute: `progress(stage, step, steps, loss)`; `next_run(index, runs, label)`
    between runs; `end(state, **fields)` when the process is done or failed."""

    def __init__(self, path: str | Path, runs: int = 1):
        self.path = Path(path)
        self.state = {"state": "running", "runs": runs, "run": 0, "label": "", "stage": "loading", "step": 0,
                      "steps": 0, "loss": None, "stage_started": time.time()}
        self.write()

    def write(self) -> None:
        write_json(self.path, {"pid": os.getpid(), "updated": time.time(), **self.state})

    def __call__(self, stage: str, step: int, steps: int, loss: float | None = None) -> None:
        if stage != self.state["stage"]:
            self.state["stage_started"] = time.time()
        self.state.update(stage=stage, step=step, steps=steps, loss=loss)
        self.write()

    def next_run(self, index: int, runs: int, label: str) -> None:
        self.state.update(run=index, runs=runs, label=label, stage=label, step=0, steps=0, loss=None,
                          stage_started=time.time())
        self.write()

    def end(self, state: str, **fields) -> None:
        self.state.update(state=state, **fields)
        self.write()
