"""The run store: one directory per run, the contract between the backend and the dashboard.

    runs/<run_id>/manifest.json      config, method, seed, versions, data hash, status, schema
                  metrics.parquet    long format: step, sparsity, split, metric, value
                  layers.parquet     one row per prunable weight: layer, module, shape, sparsity
                  masks.safetensors  bool masks; scores.safetensors; model.safetensors (dense)
                  path.safetensors   an SPP run's SolutionPath; speed.parquet its costs
    runs/.studies/<study>.json       a sweep's planned runs (run_id, method, sparsity, seed)

A run is written into runs/.tmp-<run_id>-<pid>/ and renamed into place when it ends, so a
crash never leaves a half run that looks finished. No pickle: JSON, parquet, safetensors.
Reading needs no torch: the dashboard imports this module only.
"""

import contextlib
import datetime
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.numpy import load_file, save_file

from .commands import covering_commands
from .labels import method_color
from .weight_histograms import COLUMNS as HISTOGRAM_COLUMNS

SCHEMA_VERSION = 1
STATUSES = ("running", "done", "failed")
METRIC_COLUMNS = ["step", "sparsity", "split", "metric", "value"]
LAYER_COLUMNS = ["name", "layer", "module", "rows", "cols", "numel", "nonzero", "sparsity"]
MANIFEST_KEYS = ("schema_version", "run_id", "status", "method", "sparsity", "seed", "config")
SPEED_COLUMNS = ["sparsity", "model", "params", "flops", "latency_ms"]
SENSITIVITY_COLUMNS = ["name", "layer", "module", "numel", "sparsity", "metric", "value"]
TABLES = {"metrics": METRIC_COLUMNS, "layers": LAYER_COLUMNS, "speed": SPEED_COLUMNS,
          "sensitivity": SENSITIVITY_COLUMNS}
KIND_TABLE = {"spp": "speed", "sensitivity": "sensitivity"}
"""The table a finished run of each kind must hold besides metrics (any other: layers)."""
OPTIONAL_TABLES = {
    "rgv": ["step", "layer", "module", "subset", "numerator", "denominator", "rgv"],
    "histograms": ["module", "bin_left", "bin_right", "count"],
    "sample": ["layer", "module", "saliency", "snr", "kept", "kept_snip", "top_saliency"],
    "sentinels": ["layer", "module", "top", "sw", "tsw", "sw_kept", "tsw_kept", "sw_kept_snip", "tsw_kept_snip"],
    "finetune_rgv": ["step", "layer", "module", "numerator", "denominator", "rgv"],
    "noise_scale": ["phase", "layer", "module", "batches", "batch_size", "trace", "signal", "snr", "b_simple"],
    "weight_histograms": HISTOGRAM_COLUMNS,
}
"""Optional tables: the noise probe's (a run with the probe off has none), the RGV of the run's own
fine-tuning steps, the gradient SNR and noise scale of both, and a pruned run's kept and pruned
histograms of |θ| and of its score per matrix (analysis/weight_histograms.py)."""
_NUMBER, _NONE = (int, float), type(None)
MANIFEST_TYPES = {
    "schema_version": (int,), "run_id": (str,), "status": (str,), "method": (str,), "sparsity": (*_NUMBER, _NONE),
    "seed": (int,), "config": (dict,), "created": (str,), "duration_s": _NUMBER, "base_run": (str, _NONE),
    "method_label": (str,), "method_color": (str,), "model": (str,), "data": (dict,), "results": (dict,),
    "machine": (dict,), "versions": (dict,), "budget": (dict,), "timings": (dict,), "hparams": (dict,),
    "per_target": (bool,), "rewrites_weights": (bool,), "head": (list,), "shipped": (dict,), "error": (str,),
    "resumed": (list,),
}
"""The JSON types of the manifest fields anything reads (a bool is not a number here)."""
TIMESTAMP = "%Y-%m-%dT%H:%M:%S%z"


def _wrong_type(manifest: dict) -> str | None:
    """The first manifest field whose value has the wrong type or range, as a problem."""
    for key, types in MANIFEST_TYPES.items():
        value = manifest.get(key)
        if key in manifest and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            allowed = " or ".join("null" if t is _NONE else t.__name__ for t in types)
            return f"manifest field {key} is {value!r}; must be {allowed}"
    sparsity = manifest["sparsity"]
    if sparsity is not None and not 0 <= sparsity <= 1:
        return f"manifest field sparsity is {sparsity!r}; must be in [0, 1]"
    if "created" in manifest:
        try:
            datetime.datetime.strptime(manifest["created"], TIMESTAMP)
        except ValueError:
            return (f"manifest field created is {manifest['created']!r}; must be a timestamp like "
                    "2026-01-31T12:00:00+0000")
    return None


def runs_root(path: str | Path | None = None) -> Path:
    """The runs directory: `path`, else $PRUNESCOPE_RUNS, else ./runs."""
    return Path(path or os.environ.get("PRUNESCOPE_RUNS", "runs"))


_OWNER = f"{socket.gethostname()}-{os.getpid()}"
"""Temporary folders are named after the host and process that write them."""


def sweep_stale(root: Path) -> list[Path]:
    """Delete the temporary folders (.tmp-*) of processes of this host that are gone (a killed
    run's leftovers); folders of live processes and of other hosts stay. Returns those deleted."""
    swept = []
    for path in Path(root).glob(".tmp-*"):
        _, mine, pid = path.name.rpartition(f"-{socket.gethostname()}-")
        if not mine or not pid.isdigit() or process_alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        swept.append(path)
    return swept


def process_alive(pid) -> bool:
    """Whether process `pid` of this host runs (another user's counts); not an int: False."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, TypeError):
        return False
    except PermissionError:  # another user's process
        pass
    return True


@contextlib.contextmanager
def run_lock(root: Path, run_id: str, poll: float = 2.0):
    """Hold runs/.lock-<run_id> while computing a run, so that two processes (sweep shards, two
    terminals) never compute the same run: a second one waits here until the first releases it
    (then finds the run done). A lock whose process on this host is gone is taken over."""
    path = Path(root) / f".lock-{run_id}"
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                holder, age = path.read_text(), time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            host, _, pid = holder.rpartition("-")
            dead = host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))
            if dead or (not holder and age > 60):  # its process died holding it (or before naming itself)
                path.unlink(missing_ok=True)
                continue
            time.sleep(poll)
    try:
        os.write(handle, _OWNER.encode())
        os.close(handle)
        yield
    finally:
        path.unlink(missing_ok=True)


class RunWriter:
    """Writes one run into a temporary directory; `finish` renames it into place."""

    def __init__(self, root: Path, run_id: str, manifest: dict):
        self.root = Path(root)
        self.target = self.root / run_id
        self.tmp = self.root / f".tmp-{run_id}-{_OWNER}"
        sweep_stale(self.root)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.started = time.time()
        self.manifest = {
            "schema_version": SCHEMA_VERSION, "run_id": run_id, "status": "running",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **manifest,
        }
        self._write_manifest()

    def _write_manifest(self) -> None:
        path = self.tmp / "manifest.json"
        path.write_text(json.dumps(self.manifest, indent=2, sort_keys=True, default=_jsonable))

    def table(self, name: str, frame: pd.DataFrame) -> None:
        missing = set({**TABLES, **OPTIONAL_TABLES}[name]) - set(frame.columns)
        if missing:
            raise ValueError(f"{name} table lacks columns {sorted(missing)}")
        frame.to_parquet(self.tmp / f"{name}.parquet", index=False)

    def tensors(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                  self.tmp / f"{name}.safetensors")

    @property
    def path(self) -> Path:
        """Where files of this run are being written (for writers that take a path)."""
        return self.tmp

    def finish(self, status: str = "done", replace: bool = False, **fields) -> Path:
        """Record the final status and fields, then move the run into place. A finished run there
        is not replaced (this one is discarded: another process finished the same config first)
        unless `replace` (a shipped run, tables only, computed again for its weights); a failed or
        broken one is renamed aside, then deleted. Each move is one rename, so writers finishing
        the same run at once cannot interleave: the first rename wins."""
        self.manifest.update(status=status, duration_s=round(time.time() - self.started, 2), **fields)
        self._write_manifest()
        while True:
            if self.target.exists() and read_run(self.target).status == "done" and not (replace and status == "done"):
                self.discard()
                return self.target
            if self.target.exists():
                aside = self.root / f".tmp-replaced-{self.target.name}-{_OWNER}"
                try:
                    os.rename(self.target, aside)
                except FileNotFoundError:  # another writer moved it first: look again
                    continue
                shutil.rmtree(aside, ignore_errors=True)
            try:
                os.rename(self.tmp, self.target)
                return self.target
            except OSError:
                if not self.target.exists():
                    raise
                # another writer's run arrived in between: look again

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Run:
    """A run directory as found on disk; `problem` says why it is broken (then status 'broken')."""

    run_id: str
    path: Path
    manifest: dict
    problem: str | None = None

    @property
    def status(self) -> str:
        return "broken" if self.problem else self.manifest["status"]

    @property
    def method(self) -> str:
        """The method as papers name it (SEVENpre, Iter-SNIP, …), else its registry name."""
        return self.manifest.get("method_label") or self.manifest.get("method", "?")

    @property
    def color(self) -> str:
        """The chart colour its method file declares (recorded in the manifest), else a stable pick."""
        return method_color(self.method, self.manifest.get("method_color"))

    @property
    def shipped(self) -> dict | None:
        """{study, command} of a run that came in a bundle (computed elsewhere), else None."""
        return self.manifest.get("shipped")

    @property
    def is_path(self) -> bool:
        """A structured run (SPP or a structured baseline): a ranking read off at every sparsity."""
        return self.manifest.get("method") == "spp"

    @property
    def is_sensitivity(self) -> bool:
        """A sensitivity scan (pruning/sensitivity.py): each matrix pruned alone, no pruned model."""
        return self.manifest.get("method") == "sensitivity"

    @property
    def at_one_sparsity(self) -> bool:
        """A run pruned to one sparsity (or the dense run): neither a structured path nor a scan."""
        return not (self.is_path or self.is_sensitivity)

    @property
    def label(self) -> str:
        """A human name: model · data · method · sparsity (a structured run: its path or target)
        · seed · run_id, so that runs of one method on two models or data sets never look alike."""
        if self.problem:
            return f"{self.run_id} (broken)"
        m = self.manifest
        if m.get("per_target"):
            where = f"target {100 * m['config']['spp']['target']:.0f}%"
        else:
            where = "path" if self.is_path else "per matrix" if self.is_sensitivity else f"{100 * m['sparsity']:.0f}%"
        return (f"{m.get('model', '?')} · {m.get('data', {}).get('name', '?')} · {self.method} · {where} · "
                f"seed {m['seed']} · {self.run_id}")


_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def safetensors_problem(path: Path) -> str | None:
    """Why a safetensors file is damaged, from its header alone (None if whole): the header must
    be JSON within the file, every tensor's byte range must fit its dtype and shape, and the file
    must end where the last tensor does (a truncated or padded file does not)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= size - 8:
            return f"{path.name}: header length {length} does not fit a file of {size} bytes"
        try:
            header = json.loads(file.read(length))
        except ValueError:
            return f"{path.name}: header is not valid JSON"
    end = 0
    for name, entry in header.items() if isinstance(header, dict) else [("header", None)]:
        if name == "__metadata__":
            continue
        try:
            start, stop = entry["data_offsets"]
            expected = _ITEMSIZE[entry["dtype"]] * int(np.prod(entry["shape"], dtype=np.int64))
        except (TypeError, KeyError, ValueError):
            return f"{path.name}: header entry {name!r} is malformed"
        if stop - start != expected or start < 0:
            return f"{path.name}: tensor {name!r} holds {stop - start} bytes, its shape needs {expected}"
        end = max(end, stop)
    if size != 8 + length + end:
        return f"{path.name}: {size} bytes where the header describes {8 + length + end} (truncated or padded)"
    return None


def _problem(path: Path, manifest: dict | None) -> str | None:
    if manifest is None:
        return "manifest.json missing or not valid JSON"
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        return f"manifest lacks {', '.join(missing)}"
    wrong = _wrong_type(manifest)
    if wrong:
        return wrong
    if manifest["schema_version"] != SCHEMA_VERSION:
        return f"schema version {manifest['schema_version']} (this build reads {SCHEMA_VERSION})"
    if manifest["status"] not in STATUSES:
        return f"unknown status {manifest['status']!r}"
    if manifest["run_id"] != path.name:
        return f"manifest run_id {manifest['run_id']} does not match the directory"
    if manifest["status"] == "done":
        if manifest["method"] == "spp" and not (path / "path.safetensors").exists():
            return "path.safetensors missing"
        for tensors in sorted(path.glob("*.safetensors")):
            damage = safetensors_problem(tensors)
            if damage:
                return damage
        required = {"metrics", KIND_TABLE.get(manifest["method"], "layers")}
        known = {**TABLES, **OPTIONAL_TABLES}
        for name, columns in known.items():
            if name not in required and not (path / f"{name}.parquet").exists():
                continue
            try:
                present = pq.read_schema(path / f"{name}.parquet").names
            except (OSError, pa.ArrowException) as error:
                return f"{name}.parquet unreadable: {type(error).__name__}"
            if set(columns) - set(present):
                return f"{name}.parquet lacks columns {sorted(set(columns) - set(present))}"
    return None


def read_run(path: Path) -> Run:
    """A run directory, validated: a broken one is returned with its problem (and an empty
    manifest, so that nothing reads a field of the wrong type), never raised."""
    if path.is_symlink():  # nothing is read through it: it could lead out of the runs folder
        return Run(path.name, path, {}, "a symbolic link, not a run folder inside the runs folder")
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        manifest = manifest if isinstance(manifest, dict) else None
    except (OSError, ValueError):
        manifest = None
    problem = _problem(path, manifest)
    return Run(path.name, path, manifest if problem is None else {}, problem)  # a broken manifest is not read


def list_runs(root: str | Path | None = None) -> list[Run]:
    """Every run directory under `root` (temporary ones excluded), newest first."""
    root = runs_root(root)
    if not root.is_dir():
        return []
    runs = [read_run(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: (r.manifest.get("created", ""), r.run_id), reverse=True)


def load_table(run: Run, name: str) -> pd.DataFrame:
    return pd.read_parquet(run.path / f"{name}.parquet")


def has_table(run: Run, name: str) -> bool:
    return (run.path / f"{name}.parquet").exists()


def load_tensors(run: Run, name: str) -> dict[str, np.ndarray]:
    path = run.path / f"{name}.safetensors"
    return load_file(path) if path.exists() else {}


RUN_ID = re.compile(r"^[0-9a-f]{12}$")
"""A run_id: the first 12 hex digits of the config's sha256."""
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_study_name(study) -> str:
    """`study` if it can name a study file, else a ValueError saying what it may hold."""
    if not isinstance(study, str) or not STUDY_NAME.fullmatch(study):
        raise ValueError(f"sweep.study: {study!r} must be 1-64 letters, digits, '_', '.' or '-'")
    return study


def write_json(path: Path, value, indent: int | None = None) -> None:
    """Write `value` as JSON atomically: to a file of this process, then renamed over `path`, so a
    reader sees the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(value, indent=indent))
    partial.replace(path)


def _study_path(root: str | Path | None, study: str) -> Path:
    return runs_root(root) / ".studies" / f"{check_study_name(study)}.json"


def write_study(root: str | Path | None, study: str, runs: list[dict], command: str = "") -> Path:
    """Record a study: its name, planned runs ({run_id, method, sparsity, seed}) and the fewest
    commands that recompute them (analysis/commands.py), atomically. A study grows: runs already
    recorded stay (a sweep over more seeds, or over a subset, adds to it); delete the file to
    start a study afresh."""
    path = _study_path(root, study)
    before = json.loads(path.read_text()) if path.exists() else {"runs": [], "command": ""}
    known = {entry.get("run_id") for entry in runs}
    merged = [entry for entry in before.get("runs", []) if entry.get("run_id") not in known] + runs
    commands = covering_commands([c for c in f"{before.get('command', '')} && {command}".split(" && ") if c])
    write_json(path, {"study": study, "command": " && ".join(commands), "runs": merged}, indent=1)
    return path


def study_record(root: str | Path | None, study: str) -> dict:
    """A study's record: {study, command, runs}."""
    return json.loads(_study_path(root, study).read_text())


def list_studies(root: str | Path | None = None) -> list[str]:
    """Names of the recorded studies, sorted."""
    folder = runs_root(root) / ".studies"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def study_runs(root: str | Path | None, study: str) -> list[Run]:
    """The finished runs of `study` (planned runs not yet done, or broken, are left out; so is an
    entry that is not a run_id, which could otherwise name a folder outside the runs folder)."""
    planned = study_record(root, study)["runs"]
    ids = [entry.get("run_id") for entry in planned if isinstance(entry, dict)]
    ids = [run_id for run_id in ids if isinstance(run_id, str) and RUN_ID.fullmatch(run_id)]
    runs = [read_run(runs_root(root) / run_id) for run_id in ids]
    return [run for run in runs if run.status == "done"]
