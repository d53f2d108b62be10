"""The dashboard in real chromium (Playwright): first paint of every page, control redraws, and
what an idle tab costs the server, as times and as ratios to an empty page in the same run.

--model minilm: the runs under $PRUNESCOPE_RUNS (default ./runs: the demo and shipped studies).
--model bert-base: a runs folder made once under runs/.bench/bert-base from BERT-base's shapes
(12 x 768, random weights seeded, MiniLM's vocabulary): its dense run, magnitude at 50% with
its probe, and an SPP path, each with every table a page reads.

first paint: from navigation to the page's main element drawn (its first chart; the Reproduction
page's first verdict; the New run page's command), in a fresh browser context: "cold" is the
first visit after the server started, "warm" the median of later ones. redraw: from a control's
input to a chart drawn differently (the Solution path figure's own slider redraws in the browser).
idle: the server's CPU time over 30 s with a tab open and nothing touched, from 15 s after its
first chart was drawn (the page's other charts and reruns done), in % of one core.
floor: the same first paint and slider redraw on bench/floor_page.py (a bare Streamlit page
with one 3-point Plotly chart), the least any page with a chart can take in this browser.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import transformers
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from analysis.store import list_runs, runs_root
from pruning.config import SPPConfig, load_config
from pruning.models import load_tokenizer, minilm_path

from .common import SETTINGS, report

ROOT = Path(__file__).resolve().parent.parent
CHART = '[data-testid="stPlotlyChart"] .main-svg'
SLIDER = '[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]'
PAGES = {"runs": CHART, "compare": CHART, "layer-sparsity": CHART, "solution-path": CHART, "structured": CHART,
         "gradient-noise": CHART, "sentinels": CHART, "two-runs": CHART,
         "reproduction": '[data-testid="stAlert"]', "new-run": '[data-testid="stCode"]'}
EMPTY = ("runs", '[data-testid="stAlert"]')
"""The baseline: the Runs page of an empty runs folder (its empty state)."""
CHANGED = """([selector, before]) => {
    const now = Array.from(document.querySelectorAll(selector), e => e.innerHTML);
    return now.length === before.length && now.some((html, i) => html !== before[i]);
}"""


def _bert_base_runs() -> Path:
    """The BERT-base-sized runs folder, computed on first use (minutes on a CPU)."""
    root = ROOT / "runs" / ".bench" / "bert-base"
    model_dir = root.parent / "bert-base-random"
    if not (model_dir / "config.json").exists():
        config = transformers.BertConfig(vocab_size=len(load_tokenizer("minilm")), num_labels=2)
        transformers.set_seed(0)
        transformers.BertForSequenceClassification(config).save_pretrained(model_dir)
        transformers.AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(model_dir)
    from pruning.runner import execute

    base = load_config(ROOT / "configs" / "demo.toml")
    base = replace(base, model=replace(base.model, name=str(model_dir)),
                   data=replace(base.data, max_train=512, max_eval=128),
                   dense=replace(base.dense, steps=0, eval_every=0),
                   finetune=replace(base.finetune, steps=2), probe=replace(base.probe, batches=4))
    execute(base, root)
    execute(replace(base, prune=None, spp=SPPConfig(steps=20, recover=[0.5], eval_size=64)), root)
    return root


def serve(root: Path, script: str = "app.py") -> tuple[subprocess.Popen, str]:
    """`script` (a path from the repository root) served by Streamlit on a free port, reading `root`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)], cwd=ROOT,
        env={**os.environ, "PRUNESCOPE_RUNS": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("streamlit did not answer its health check within 2 minutes")


def launch(playwright):
    """Debian's chromium, headless, as the browser suite runs it."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                      args=["--no-sandbox", "--disable-gpu"])


def paint(browser, url: str, page: str, selector: str) -> tuple[float | None, object]:
    """Seconds from navigation to `selector` visible, in a fresh context (None: not within a
    minute, e.g. a page with nothing to draw for these runs); and the open tab."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    start = time.perf_counter()
    tab.goto(f"{url}/{page}", wait_until="commit")
    try:
        tab.locator(selector).first.wait_for(state="visible", timeout=60_000)
    except PlaywrightTimeout:
        return None, tab
    return time.perf_counter() - start, tab


def _first_paints(browser, url: str, pages: dict, repeats: int) -> dict:
    times = {}
    for page, selector in pages.items():
        cold, tab = paint(browser, url, page, selector)
        tab.context.close()
        if cold is None:
            times[page] = "not drawn"
            continue
        warm = []
        for _ in range(repeats):
            seconds, tab = paint(browser, url, page, selector)
            tab.context.close()
            warm.append(seconds)
        times[page] = {"cold_s": round(cold, 3), "warm_s": round(statistics.median(warm), 3)}
    return times


def _redraw(tab, act, selector: str = CHART) -> float | None:
    """Milliseconds from `act()` to any chart drawn differently (None: nothing changed in 30 s)."""
    tab.wait_for_timeout(1500)  # the page settled
    before = tab.eval_on_selector_all(selector, "els => els.map(e => e.innerHTML)")
    start = time.perf_counter()
    act()
    try:
        tab.wait_for_function(CHANGED, arg=[selector, before], polling="raf", timeout=30_000)
    except PlaywrightTimeout:
        return None
    return 1000 * (time.perf_counter() - start)


def _key(selector: str, key: str):
    """A control used from the keyboard: click the last `selector`, press `key` ("A+B": A, then B)."""
    def make(tab):
        return lambda: (tab.locator(selector).last.click(), *(tab.keyboard.press(k) for k in key.split("+")))
    return selector, make


def _slider(selector: str = SLIDER):
    """The first slider moved from the keyboard to its far end (End, or Home when it is there)."""
    def make(tab):
        slider = tab.locator(selector).first
        at_end = slider.evaluate("e => e.value === e.max")
        return lambda: (slider.focus(), tab.keyboard.press("Home" if at_end else "End"))
    return selector, make


def _path_slider():
    """The Solution path figure's own slider: a click on its second-to-last step."""
    def make(tab):
        label = tab.locator("g.slider-labels text").nth(-2)
        label.scroll_into_view_if_needed()
        box = label.bounding_box()
        return lambda: tab.mouse.click(box["x"] + box["width"] / 2, box["y"] - 15)
    return "g.slider-labels text", make


CONTROLS = {
    "runs · metric": ("runs", _key('[data-testid="stMain"] [data-testid="stSelectbox"] input',
                                   "ArrowDown+Enter")),
    "compare · sparsity": ("compare?scope=study%3A+compare", _slider()),
    "layer-sparsity · scan sparsity": ("layer-sparsity", _slider()),
    "sentinels · SNR threshold": ("sentinels", _slider()),
    "solution-path · figure slider": ("solution-path", _path_slider()),
}
"""name -> (page, (the control's selector, make(tab) -> the action))"""


def _redraws(browser, url: str, repeats: int, controls: dict = CONTROLS) -> dict:
    """Median redraw per control (controls a page does not have for these runs are left out)."""
    out = {}
    for name, (page, (selector, make)) in controls.items():
        drawn, tab = paint(browser, url, page, CHART)
        if drawn is None or tab.locator(selector).count() == 0:
            tab.context.close()
            continue
        times = []
        for i in range(repeats):
            if i:  # the page opened afresh from the same link, so each repeat makes the same change
                tab.goto(f"{url}/{page}", wait_until="commit")
                tab.locator(CHART).first.wait_for(state="visible", timeout=180_000)
            times.append(_redraw(tab, make(tab)))
            if times[-1] is None:
                break
        out[name] = "no redraw" if None in times else round(statistics.median(times), 1)
        print(name, out[name], file=sys.stderr)
        tab.context.close()
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle(browser, url: str, process: subprocess.Popen, seconds: float = 30.0) -> float:
    _, tab = paint(browser, url, "runs", CHART)
    tab.wait_for_timeout(15_000)
    before, start = _cpu_seconds(process.pid), time.perf_counter()
    tab.wait_for_timeout(1000 * seconds)
    used = _cpu_seconds(process.pid) - before
    tab.context.close()
    return round(100 * used / (time.perf_counter() - start), 2)


def _floor(browser, repeats: int) -> dict:
    """First paint and slider redraw of bench/floor_page.py."""
    process, url = serve(ROOT, "bench/floor_page.py")
    try:
        paints = _first_paints(browser, url, {"": CHART}, repeats)[""]
        return {**paints, "redraw_ms": _redraws(browser, url, repeats, {"slider": ("", _slider())})["slider"]}
    finally:
        process.terminate()


def main(repeats: int = 3) -> None:
    root = _bert_base_runs() if SETTINGS["model"] == "bert-base" else runs_root()
    if not any(r.status == "done" for r in list_runs(root)):
        raise SystemExit(f"no finished runs in {root}: compute the demo first (python -m pruning demo)")
    with tempfile.TemporaryDirectory() as empty, sync_playwright() as playwright:
        browser = launch(playwright)
        process, url = serve(Path(empty))
        try:
            baseline = _first_paints(browser, url, dict([EMPTY]), repeats)["runs"]
        finally:
            process.terminate()
        floor = _floor(browser, repeats)
        process, url = serve(root)
        try:
            pages = _first_paints(browser, url, PAGES, repeats)
            redraws = _redraws(browser, url, repeats)
            idle = _idle(browser, url, process)
        finally:
            process.terminate()
        browser.close()
    for times in (t for t in pages.values() if isinstance(t, dict)):
        times["cold_ratio"] = round(times["cold_s"] / baseline["cold_s"], 2)
        times["warm_ratio"] = round(times["warm_s"] / baseline["warm_s"], 2)
        times["warm_over_floor"] = round(times["warm_s"] / floor["warm_s"], 2)
    report("dashboard", runs=len(list_runs(root)), empty_page=baseline, floor_page=floor, first_paint=pages,
           redraw_ms=redraws, idle_cpu_percent=idle,
           goals={"first_paint.*.cold_s": "<= 2", "first_paint.*.warm_s": "<= 2",
                  "redraw_ms.solution-path*": "<= 50", "redraw_ms.*": "<= 300", "idle_cpu_percent": "< 1"})
