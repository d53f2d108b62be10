"""Study bundles: a study's finished runs as one light zip that another installation imports.

    bundle.json                   format, study, the command that recomputes it, run_ids
    study.json                    the study record (planned runs)
    runs/<run_id>/manifest.json   with "shipped": {study, command}; the study's runs and the
                                  dense runs they were pruned from
    runs/<run_id>/<table>.parquet metrics, layers, the RGV and noise tables, sentinels, a
                                  subsample of the probe's weight sample (SAMPLE_ROWS); the
                                  bulky per-step and per-entry tables (SINGLE_PRECISION) with
                                  their float columns in float32 (7 significant digits), and
                                  the RGV tables without the rgv column, recomputed on import
    runs/<run_id>/path.safetensors a structured run's entry ranking (SolutionPath: numbers only)
No per-weight masks, scores or weights travel. Import validates before it writes: member names
must be exactly these (run_ids of 12 hex digits, known table names; no path can leave the runs
folder), sizes are bounded, JSON and parquet only (nothing is unpickled), and every manifest
must describe a finished run with its tables; runs already present are left as they are. A study
recorded here already grows by the runs the bundle holds and its command (one line, no backticks:
it is shown as code), so runs computed here and shipped ones make one study.
"""

import io
import json
import os
import re
import shutil
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .noise import rgv_ratio
from .solution_path import SolutionPath
from .store import (
    OPTIONAL_TABLES,
    RUN_ID,
    TABLES,
    check_study_name,
    read_run,
    runs_root,
    study_record,
    study_runs,
    write_study,
)

FORMAT = 2
"""2: the RGV tables travel without their rgv column (RECOMPUTED); import reads 1 and 2."""
READABLE = (1, 2)
SAMPLE_ROWS = 2_000
"""Weights of the probe's sample kept per run in a bundle (of 20,000 by default)."""
SINGLE_PRECISION = ("finetune_rgv", "rgv", "sample", "weight_histograms")
"""Tables that travel with float32 columns: most of a bundle's bytes (a 400-step run's
fine-tuning RGV alone is 15,000 rows), half as large; the metrics stay float64."""
RECOMPUTED = ("finetune_rgv", "rgv")
"""Tables whose rgv column does not travel (a third of their bytes): import recomputes it as
noise.rgv_ratio, as gradstats does, from the float32 columns (so to float32 precision)."""
MAX_RECOMPUTED_ROWS = 2_000_000
"""Rows an RGV table may declare before import decodes it (a 400-step run's has 15,000)."""
BUNDLED_TABLES = (*TABLES, *OPTIONAL_TABLES)
MAX_MEMBER_BYTES = 32 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_MEMBERS = 20_000
MEMBER = re.compile(r"^(bundle\.json|study\.json|runs/([0-9a-f]{12})/(manifest\.json|path\.safetensors|"
                    r"([a-z_]+)\.parquet))$")


class BundleError(ValueError):
    """A bundle that cannot be imported, and why."""


def export_bundle(study: str, out: str | Path, root: str | Path | None = None) -> Path:
    """Write the finished runs of `study` under `root` into the zip `out`; returns its path."""
    record = study_record(root, check_study_name(study))
    runs = study_runs(root, study)
    bases = sorted({r.manifest["base_run"] for r in runs if r.manifest.get("base_run")})
    runs += [run for run in (read_run(runs_root(root) / b) for b in bases) if run.status == "done"]
    command = record.get("command", "")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.json", json.dumps({"format": FORMAT, "study": study, "command": command,
                                                    "runs": [r.run_id for r in runs]}, indent=1))
        archive.writestr("study.json", json.dumps(record, indent=1))
        for run in runs:
            manifest = {**run.manifest, "shipped": {"study": study, "command": command}}
            archive.writestr(f"runs/{run.run_id}/manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
            if run.is_path:
                archive.write(run.path / "path.safetensors", f"runs/{run.run_id}/path.safetensors")
            for name in BUNDLED_TABLES:
                path = run.path / f"{name}.parquet"
                if not path.exists():
                    continue
                frame = pd.read_parquet(path)
                if name == "sample" and len(frame) > SAMPLE_ROWS:
                    frame = frame.sample(SAMPLE_ROWS, random_state=0).sort_index()
                if name in RECOMPUTED:
                    frame = frame.drop(columns="rgv")
                if name in SINGLE_PRECISION:
                    frame = frame.astype({c: "float32" for c in frame.select_dtypes("float64").columns})
                buffer = io.BytesIO()
                frame.to_parquet(buffer, index=False)
                archive.writestr(f"runs/{run.run_id}/{name}.parquet", buffer.getvalue())
    return out


def _checked_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise BundleError(f"bundle: {len(members)} members; at most {MAX_MEMBERS}")
    found = {}
    for info in members:
        match = MEMBER.fullmatch(info.filename)
        table = match.group(4) if match else None
        if not match or (table is not None and table not in BUNDLED_TABLES):
            raise BundleError(f"bundle: member {info.filename!r} is not allowed; members are bundle.json, "
                              "study.json and runs/<12 hex>/{manifest.json, <table>.parquet, path.safetensors}")
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleError(f"bundle: member {info.filename} is {info.file_size} bytes; at most {MAX_MEMBER_BYTES}")
        found[info.filename] = info
    total = sum(info.file_size for info in members)
    if total > MAX_TOTAL_BYTES:
        raise BundleError(f"bundle: {total} bytes unpacked; at most {MAX_TOTAL_BYTES}")
    for required in ("bundle.json", "study.json"):
        if required not in found:
            raise BundleError(f"bundle: {required} is missing")
    return found


def import_bundle(path: str | Path, root: str | Path | None = None) -> tuple[str, list[str]]:
    """Import a bundle into the runs folder; returns (study, run_ids added). Nothing is written
    unless the whole bundle is valid."""
    root = runs_root(root)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise BundleError(f"bundle: {path} is not a readable zip ({error})") from None
    staging = root / f".tmp-import-{os.getpid()}"
    try:
        with archive:
            return _import(archive, root, staging)
    except (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError, OSError) as error:  # damaged, truncated, encrypted
        raise BundleError(f"bundle: {path} cannot be read ({type(error).__name__}: {error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _recompute_rgv(path: Path, run_id: str) -> None:
    """Add the rgv column that export_bundle left out, after checking the table's schema and size
    from its footer (a small member may declare many rows)."""
    where = f"bundle: run {run_id}: {path.name}"
    try:
        meta = pq.read_metadata(path)
        types = {field.name: field.type for field in meta.schema.to_arrow_schema()}
        numeric = (pa.types.is_floating, pa.types.is_null)  # null: an empty table (a run with no fine-tuning)
        if not all(c in types and any(ok(types[c]) for ok in numeric) for c in ("numerator", "denominator")):
            raise BundleError(f"{where} must have float columns numerator and denominator")
        if meta.num_rows > MAX_RECOMPUTED_ROWS:
            raise BundleError(f"{where} has {meta.num_rows} rows; at most {MAX_RECOMPUTED_ROWS}")
        frame = pd.read_parquet(path)
        frame["rgv"] = rgv_ratio(frame)
        frame.to_parquet(path, index=False)
    except BundleError:
        raise
    except (OSError, ValueError, pa.ArrowException) as error:  # pyarrow's invalid files are ArrowInvalid
        raise BundleError(f"{where} cannot be read ({type(error).__name__})") from None


def _import(archive: zipfile.ZipFile, root: Path, staging: Path) -> tuple[str, list[str]]:
    members = _checked_members(archive)
    try:
        meta = json.loads(archive.read("bundle.json"))
        record = json.loads(archive.read("study.json"))
    except ValueError as error:
        raise BundleError(f"bundle: bundle.json or study.json is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") not in READABLE:
        raise BundleError(f"bundle: format {meta.get('format') if isinstance(meta, dict) else meta!r}; "
                          f"this build reads {' and '.join(map(str, READABLE))}")
    try:
        study = check_study_name(meta.get("study"))
    except ValueError as error:
        raise BundleError(str(error)) from None
    planned = record.get("runs") if isinstance(record, dict) else None
    if not isinstance(planned, list) or not all(isinstance(e, dict) and RUN_ID.fullmatch(str(e.get("run_id")))
                                                for e in planned):
        raise BundleError("bundle: study.json must list runs as {run_id: 12 hex digits, …}")
    command = record.get("command", meta.get("command", ""))
    if not isinstance(command, str) or any(c in command for c in "`\n\r"):
        raise BundleError("bundle: study.json's command must be one line of text without backticks")
    runs: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for name, info in members.items():
        if name.startswith("runs/"):
            _, run_id, file = name.split("/")
            runs.setdefault(run_id, {})[file] = info
    added = []
    for run_id, files in runs.items():  # one run at a time: memory holds at most one member
        if (root / run_id).exists():
            continue
        target = staging / run_id
        target.mkdir(parents=True, exist_ok=True)
        for file, info in files.items():
            (target / file).write_bytes(archive.read(info))
            if file.removesuffix(".parquet") in RECOMPUTED:
                _recompute_rgv(target / file, run_id)
        run = read_run(target)
        if run.problem or run.manifest.get("status") != "done":
            raise BundleError(f"bundle: run {run_id} is not a finished run ({run.problem or run.status})")
        if run.is_path:
            try:
                SolutionPath.load(target / "path.safetensors")
            except Exception as error:  # any damage: the header, the arrays, the metadata
                raise BundleError(f"bundle: run {run_id}: path.safetensors cannot be read ({error})") from None
        added.append(run_id)
    for run_id in added:
        (staging / run_id).replace(root / run_id)
    carried = [entry for entry in planned if entry["run_id"] in runs]  # a bundle names only the runs it holds
    write_study(root, study, carried, command)  # merged into a study recorded here
    return study, added
