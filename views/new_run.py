"""New run: a form read off the config schema and the method registry (pruning/forms.py); the
job runs as a separate process, one at a time (analysis/jobs.py), with its progress, log tail
and a cancel button. The page never trains."""

import json
from itertools import groupby

import streamlit as st

from analysis import jobs
from analysis.store import runs_root
from ui.common import reading, url_selectbox

st.title("New run")
reading("Start from a config file, change what you need, and queue it. Jobs run one at a time in their own "
        "process; their runs appear on every page as they finish. The form checks the config with the command "
        "line's own checks, and shows the command it amounts to.")
ROOT = runs_root()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {secs:02d}s"


def _job(job: jobs.Job) -> None:
    with st.container(border=True, key=f"job-{job.id}"):
        head, button = st.columns([6, 1])
        took = f" in {_duration(job.ended - job.started)}" if job.ended and job.started else ""
        head.markdown(f"**{job.state}**{took} · `{' '.join(job.command)}`")
        if job.state in ("queued", "running") and button.button("Cancel", key=f"cancel-{job.id}"):
            jobs.cancel(ROOT, job.id)
            st.rerun(scope="app")
        status = jobs.progress(ROOT, job)
        if job.state == "running" and status:
            done = status["run"] + (status["step"] / status["steps"] if status["steps"] else 0)
            loss = f" · loss {status['loss']:.3f}" if status.get("loss") is not None else ""
            st.progress(min(1.0, done / max(1, status["runs"])), text=(
                f"run {status['run'] + 1} of {status['runs']} · {status['stage']} · step {status['step']}/"
                f"{status['steps']}{loss} · stage ETA {_duration(status['eta_s'])}"))
        elif job.state == "failed" and status and status.get("error"):
            st.error(status["error"])
        if job.state != "queued":
            with st.expander("Log"):
                st.code(jobs.log_tail(ROOT, job) or "(nothing yet)", language=None)


def _jobs() -> None:
    listed = list(reversed(jobs.jobs(ROOT)))[:8]
    if not listed:
        st.info("No jobs yet: the form below queues one.")
    for job in listed:
        _job(job)


@st.fragment(run_every=2)
def _live_jobs() -> None:
    if not any(j.state in ("queued", "running") for j in jobs.jobs(ROOT)):
        st.rerun(scope="app")  # all finished: draw the list once more, without the timer
    jobs.ensure_worker(ROOT)  # a job queued while the last worker was exiting
    _jobs()


st.subheader("Jobs")
if any(j.state in ("queued", "running") for j in jobs.jobs(ROOT)):
    _live_jobs()
else:
    _jobs()

st.subheader("Queue a run or a study")
with st.spinner("Reading the configs and the method registry"):
    from pruning import forms
    from pruning.config import ConfigError

files = forms.config_files()
path = url_selectbox(st, "Start from", list(files), key="config")
kind = files[path]
st.caption(f"`{path}` is a {'study: every method x sparsity x seed of its [sweep]' if kind == 'sweep' else 'run'}.")


def _widget(container, field: forms.FormField, key: str):
    label, text = field.key.rpartition(".")[2], field.help or None
    if field.value is None:  # unset: the code's default
        typed = container.text_input(label, "", key=key, help=text or "empty: the default")
        return None if not typed else json.loads(typed) if typed.replace(".", "", 1).isdigit() else typed
    if field.kind == "bool":
        return container.checkbox(label, value=bool(field.value), key=key, help=text)
    if field.kind == "choice":
        return container.selectbox(label, field.choices, index=field.choices.index(field.value), key=key, help=text,
                                   format_func=lambda choice: choice if choice != "" else "(the method's default)")
    if field.kind == "int":
        return int(container.number_input(label, value=int(field.value), step=1, key=key, help=text))
    if field.kind == "float":
        return float(container.number_input(label, value=float(field.value), format="%g", key=key, help=text))
    if field.kind == "list" and field.choices:
        return container.multiselect(label, field.choices, default=field.value, key=key, help=text)
    if field.kind == "list":
        typed = container.text_input(label, json.dumps(field.value), key=key, help=text or "a list, e.g. [0.5, 0.7]")
        try:
            return json.loads(typed)
        except ValueError:
            return typed  # the check below names the field
    return container.text_input(label, str(field.value), key=key, help=text)


fields = forms.form_fields(path)
values: dict = {}
for section, group in groupby(fields, key=lambda f: f.key.rpartition(".")[0] or "run"):
    title = f"[{section}]" if section != "run" else "seed"
    with st.expander(title, expanded=section in ("run", "prune", "spp", "sweep")):
        columns = st.columns(4)
        for i, field in enumerate(group):
            values[field.key] = _widget(columns[i % 4], field, f"form:{path}:{field.key}")
method = values.get("prune.method")
if method:
    base = forms.base_config(path)[0]
    given = base.prune.hparams if base.prune.method == method else {}
    extra = forms.hparam_fields(method, given)
    if extra:
        with st.expander(f"{method}'s hyperparameters", expanded=True):
            columns = st.columns(4)
            for i, field in enumerate(extra):
                values[field.key] = _widget(columns[i % 4], field, f"form:{path}:{method}:{field.key}")
        fields = fields + extra

sets = forms.overrides(fields, values)
st.code(" ".join(["python -m pruning", kind, path, *(f"--set '{s}'" for s in sets)]), language="bash")
if st.button("Queue", type="primary"):
    try:
        forms.check(path, kind, sets)
    except ConfigError as error:
        st.error(str(error))
    else:
        job = jobs.submit(ROOT, kind, path, sets)
        st.success(f"Queued job {job.id}.")
        st.rerun()
