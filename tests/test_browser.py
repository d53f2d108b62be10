"""The real thing: `streamlit run app.py` on a free port, driven by Debian's chromium via Playwright.

Opens every page, checks that no exception element is shown and that the main chart is drawn,
and saves a screenshot of each page under screenshots/.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {  # a deep link first: a fresh server's first request must already use st.navigation
    "layer-sparsity": "layer-sparsity", "runs": "runs", "compare": "compare", "gradient-noise": "gradient-noise",
    "sentinels": "sentinels", "solution-path": "solution-path", "structured": "structured", "two-runs": "two-runs",
}
DRAWN = {  # what a chart with data draws, per page
    "runs": ".scatterlayer .trace", "compare": ".scatterlayer .trace",
    "layer-sparsity": ".heatmaplayer image, .heatmaplayer .hm",
    "gradient-noise": ".boxlayer .trace", "sentinels": ".gl-container canvas",
    "solution-path": ".heatmaplayer image, .heatmaplayer .hm", "structured": ".scatterlayer .trace",
    "two-runs": ".heatmaplayer image, .heatmaplayer .hm",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(smoke_runs, structured_smoke_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    for folder in (smoke_runs, structured_smoke_runs):  # every page has runs to draw
        shutil.copytree(folder, root, dirs_exist_ok=True)
    port = _free_port()
    env = {**os.environ, "PRUNESCOPE_RUNS": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not answer its health check within 60 s")
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_its_chart_without_exceptions(server, browser, page):
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/{PAGES[page]}", wait_until="domcontentloaded")
    chart = tab.locator('[data-testid="stPlotlyChart"] .main-svg').first
    chart.wait_for(state="visible", timeout=60_000)
    tab.locator(DRAWN[page]).first.wait_for(state="attached", timeout=60_000)  # the chart drew its data
    _settled(tab)
    assert tab.locator('[data-testid="stException"]').count() == 0
    assert tab.get_by_text("Page not found").count() == 0
    assert tab.get_by_role("link", name="Layer sparsity", exact=True).count() == 1  # ours, not pages/ names
    (ROOT / "screenshots").mkdir(exist_ok=True)
    tab.screenshot(path=str(ROOT / "screenshots" / f"{page}.png"), full_page=True)
    tab.close()


def test_path_slider_redraws_the_heatmap_in_the_browser(server, browser):
    """Clicking another step of the figure's own slider changes the kept counts, client-side."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/solution-path", wait_until="domcontentloaded")
    tab.locator(".heatmaplayer text").first.wait_for(state="visible", timeout=60_000)
    _settled(tab)
    before = tab.locator(".heatmaplayer text").all_text_contents()
    label = tab.locator("g.slider-labels text", has_text="90%").first
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    tab.mouse.click(box["x"] + box["width"] / 2, box["y"] - 15)  # the slider's tick above its label
    tab.wait_for_function("before => [...document.querySelectorAll('.heatmaplayer text')].map(e => e.textContent)"
                          ".join('|') !== before.join('|')", arg=before, timeout=30_000)
    after = tab.locator(".heatmaplayer text").all_text_contents()
    assert before and after != before, (before, after)
    assert tab.locator(".slider-container .slider-label").first.text_content().endswith("90%")
    tab.close()


def test_a_box_selection_on_sentinels_breaks_the_weights_down(server, browser):
    """Drag a box over the WebGL scatter: the page reruns without an exception and the breakdown
    chart draws the selected weights as bars (a KeyError on the selection's customdata before)."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/sentinels", wait_until="domcontentloaded")
    tab.locator(".gl-container canvas").first.wait_for(state="visible", timeout=60_000)
    _settled(tab)
    breakdown = tab.locator('[data-testid="stPlotlyChart"]').nth(1).locator(".barlayer .trace")
    assert breakdown.count() == 0
    drag = tab.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
    drag.scroll_into_view_if_needed()
    box = drag.bounding_box()
    tab.mouse.move(box["x"] + 5, box["y"] + 5)
    tab.mouse.down()
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=10)
    tab.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=10)
    tab.mouse.up()
    breakdown.first.wait_for(state="attached", timeout=30_000)
    assert tab.locator('[data-testid="stException"]').count() == 0
    tab.close()


def test_new_run_page_checks_the_form_and_runs_the_job(server, browser):
    """A bad value is refused with the CLI's message and queues nothing; the smoke config queues
    a job that the worker runs (its runs are already in the folder, so it finishes at once)."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/new-run?config=configs/smoke.toml", wait_until="domcontentloaded")
    queue = tab.get_by_role("button", name="Queue")
    queue.wait_for(timeout=120_000)
    sparsity = tab.get_by_label("sparsity", exact=True)
    sparsity.fill("1.5")
    sparsity.press("Enter")
    _settled(tab)
    queue.click()
    error = tab.locator('[data-testid="stAlertContentError"]')
    error.first.wait_for(timeout=30_000)
    assert "prune.sparsity: 1.5 is not allowed; must be in [0, 1)" in error.first.text_content()
    assert tab.get_by_text("No jobs yet").count() == 1
    sparsity.fill("0.5")
    sparsity.press("Enter")
    _settled(tab)
    queue.click()
    tab.locator('[class*="st-key-job-"]', has_text="done").first.wait_for(timeout=180_000)
    assert tab.locator('[data-testid="stException"]').count() == 0
    tab.screenshot(path=str(ROOT / "screenshots" / "new-run.png"), full_page=True)
    tab.close()


def test_a_chart_downloads_the_data_it_draws_and_a_standalone_figure(server, browser):
    tab = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab.goto(f"{server}/compare", wait_until="domcontentloaded")
    tab.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible", timeout=60_000)
    files = {}
    for label in ("Data (CSV)", "Figure (HTML)"):
        tab.locator('[data-testid="stPopover"] button').first.click()
        with tab.expect_download(timeout=30_000) as download:
            tab.get_by_role("button", name=label).first.click()
        files[label] = download.value.path().read_text()
        tab.keyboard.press("Escape")
    header, *rows = files["Data (CSV)"].splitlines()
    assert header.startswith("trace,type,x,y") and {"magnitude", "random"} <= {r.split(",")[0] for r in rows}
    assert '"format": "svg"' in files["Figure (HTML)"] and "plotly" in files["Figure (HTML)"][:5000].lower()
    tab.close()


def test_a_view_reopens_from_its_link(server, browser):
    """Picking a tab writes it into the URL; that URL, opened afresh, shows the same tab."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.goto(f"{server}/compare", wait_until="domcontentloaded")
    tab.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible", timeout=60_000)
    tab.get_by_role("tab", name="Training loss").click()
    tab.wait_for_function("() => window.location.search.includes('compare_tab=')", timeout=30_000)
    link = tab.url
    tab.close()
    again = browser.new_page(viewport={"width": 1400, "height": 1000})
    again.goto(link, wait_until="domcontentloaded")
    selected = again.get_by_role("tab", name="Training loss")
    selected.wait_for(timeout=60_000)
    _settled(again)
    assert selected.get_attribute("aria-selected") == "true", link
    assert again.locator('[data-testid="stException"]').count() == 0
    again.close()


def _settled(tab) -> None:
    """Wait until the script run a control started has finished and the browser has drawn what it sent: the
    script not running, no placeholder of a widget whose code is still loading, and the same number of
    elements at three checks in a row (on a slow machine widgets mount well after the script finished)."""
    idle = tab.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    loading = tab.locator('[data-testid="stSkeleton"]')
    elements = tab.locator('[data-testid="stElementContainer"]')
    seen, same = -1, 0
    while same < 3:
        tab.wait_for_timeout(300)
        idle.wait_for(state="attached", timeout=90_000)
        loading.first.wait_for(state="detached", timeout=90_000)
        count = elements.count()
        same, seen = (same + 1 if count == seen else 0), count


SLIDER = '[data-testid="stSlider"] input[type="range"]'
SLIDER_VALUES = "els => els.map(e => e.getAttribute('aria-valuetext'))"
CONTROLS = {  # what one use of each kind of control is, on the page's main area and its sidebar
    SLIDER: lambda c: (c.focus(), c.press("ArrowRight")),
    '[data-testid="stSelectbox"] input': lambda c: (c.click(), c.press("ArrowDown"), c.press("Enter")),
    '[data-testid="stMultiSelect"] input': lambda c: (c.click(), c.press("Backspace"), c.press("Escape")),
    '[data-testid="stRadio"] label:last-of-type': lambda c: c.click(),
    '[data-testid="stCheckbox"] label': lambda c: c.click(),
    '[role="tab"]': lambda c: c.click(),
    '[data-testid="stExpander"] summary': lambda c: c.click(),
}


@pytest.mark.parametrize("page", [*PAGES, "reproduction"])
def test_every_control_once_then_the_view_reopens_from_its_link(server, browser, page):
    """Each slider, select box, multiselect, radio, toggle, tab and expander of the page used once (by
    keyboard where it has one): no exception box, no page error; then the URL, opened afresh,
    shows the same controls' values without an exception either."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{server}/{page}", wait_until="domcontentloaded")
    tab.locator("h1").first.wait_for(timeout=60_000)
    _settled(tab)
    used = 0
    for selector, use in CONTROLS.items():
        for i in range(tab.locator(selector).count()):
            control = tab.locator(selector).nth(i)
            if not control.is_visible():
                continue
            control.scroll_into_view_if_needed()
            use(control)
            _settled(tab)
            used += 1
            assert tab.locator('[data-testid="stException"]').count() == 0, (page, selector, i)
    assert used >= 1 and not errors, (page, used, errors)
    values = tab.locator(SLIDER).evaluate_all(SLIDER_VALUES)
    link = tab.url
    tab.close()
    again = browser.new_page(viewport={"width": 1400, "height": 1000})
    again.goto(link, wait_until="domcontentloaded")
    again.locator("h1").first.wait_for(timeout=60_000)
    _settled(again)
    assert again.locator('[data-testid="stException"]').count() == 0, link
    reopened = again.locator(SLIDER).evaluate_all(SLIDER_VALUES)
    assert reopened == values, (link, values, reopened)
    again.close()
