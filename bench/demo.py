"""The first minutes of ./run.sh, as a newcomer meets them, in a fresh runs folder: the shipped
studies imported, the dashboard's Runs page drawn in chromium (the first informative page), then
`python -m pruning demo` with each run's end read off its progress file (runs/.demo.json).

The import and the first page are timed from the start (the end of the install); the demo's runs
from the demo's own start, which here follows the first page so that the two do not share the
CPU (./run.sh starts both at once). The issue's goals: an informative page within 180 s and the
whole demo within 720 s on a 2-core CPU. --repeats is ignored: the demo is computed once.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from analysis.demo import STATUS_FILE

from .common import report
from .dashboard import CHART, ROOT, launch, paint, serve


def _first_page(root: Path, start: float) -> float:
    """Seconds from `start` to the Runs page's first chart drawn, on a server over `root`."""
    server, url = serve(root)
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            drawn, _ = paint(browser, url, "runs", CHART)
            browser.close()
        if drawn is None:
            raise RuntimeError("the Runs page drew no chart within a minute")
        return time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)


def _demo_timeline(root: Path, start: float) -> list[dict]:
    """Run the demo into `root`; per run, its label, the seconds from `start` at which it ended and
    when each of its reported stages began (evaluation is counted in the stage before it)."""
    process = subprocess.Popen([sys.executable, "-m", "pruning", "demo", "--runs", str(root)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = []
    while process.poll() is None:
        time.sleep(0.5)
        try:
            status = json.loads((root / STATUS_FILE).read_text())
        except (OSError, ValueError):
            continue
        now, running = round(time.perf_counter() - start, 1), status.get("state") == "running"
        if runs and "ended_s" not in runs[-1] and (not running or status.get("run") != runs[-1]["index"]):
            runs[-1]["ended_s"] = now
        if running and (not runs or runs[-1]["index"] != status.get("run")):
            runs.append({"index": status.get("run"), "run": status.get("label"), "stages": {}})
        if runs and "ended_s" not in runs[-1]:
            runs[-1]["stages"].setdefault(status.get("stage"), now)
    if process.returncode:
        raise RuntimeError(f"the demo failed (exit {process.returncode}); see {root}/{STATUS_FILE}")
    for run in runs:
        run.pop("index")
        run.setdefault("ended_s", round(time.perf_counter() - start, 1))
    return runs


def main(repeats: int = 1) -> None:
    del repeats
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "runs"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pruning", "import", *map(str, sorted(ROOT.glob("studies/*.zip"))),
                        "--runs", str(root)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        imported = time.perf_counter() - start
        first_page = _first_page(root, start)
        timeline = _demo_timeline(root, time.perf_counter())
        report("demo", studies_imported_s=round(imported, 1), first_page_s=round(first_page, 1),
               demo_s=timeline[-1]["ended_s"] if timeline else None, runs=timeline,
               goals={"first_page_s": "<= 180", "demo_s": "<= 720"})
