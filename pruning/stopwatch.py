"""Seconds spent per stage of a run, recorded in its manifest as `timings`."""

import time
from contextlib import contextmanager


class Stopwatch(dict):
    """stage name -> seconds (summed over repeated stages, rounded to 10 ms)."""

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = round(self.get(name, 0.0) + time.perf_counter() - started, 2)
