"""Study bundles: a round trip keeps every table, and hostile or damaged bundles write nothing."""

import io
import json
import struct
import zipfile

import numpy as np
import pandas as pd
import pytest

from analysis.bundle import RECOMPUTED, SAMPLE_ROWS, SINGLE_PRECISION, BundleError, export_bundle, import_bundle
from analysis.solution_path import SolutionPath
from analysis.store import has_table, list_runs, list_studies, load_table, study_record, study_runs, write_study


def test_round_trip_keeps_the_study_and_its_tables_but_no_masks(smoke_study, tmp_path):
    path = export_bundle("smoke", tmp_path / "smoke.zip", smoke_study)
    study, added = import_bundle(path, tmp_path / "runs")
    original = {r.run_id: r for r in study_runs(smoke_study, "smoke")}
    dense = {r.manifest["base_run"] for r in original.values()}
    assert study == "smoke" and sorted(added) == sorted([*original, *dense])  # with the dense runs they pruned
    assert list_studies(tmp_path / "runs") == ["smoke"]
    imported = study_runs(tmp_path / "runs", "smoke")
    assert len(imported) == len(original)
    for run in imported:
        assert run.status == "done" and run.shipped["study"] == "smoke"
        assert "python -m pruning sweep" in run.shipped["command"]
        source = original[run.run_id]
        for name in ("metrics", "layers", "noise_scale", "sentinels"):
            pd.testing.assert_frame_equal(load_table(run, name), load_table(source, name))
        light = load_table(run, "finetune_rgv")
        assert "finetune_rgv" in SINGLE_PRECISION and set(map(str, light.select_dtypes("float").dtypes)) == {"float32"}
        for name in RECOMPUTED:  # travel without their rgv column, recomputed on import
            if has_table(source, name):
                pd.testing.assert_frame_equal(load_table(run, name), load_table(source, name), check_dtype=False,
                                              rtol=1e-6)
        assert len(load_table(run, "sample")) == min(SAMPLE_ROWS, len(load_table(source, "sample")))
        assert not (run.path / "masks.safetensors").exists()
    assert import_bundle(path, tmp_path / "runs")[1] == []  # present runs stay as they are
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist() if n.endswith(("/finetune_rgv.parquet", "/rgv.parquet"))]
        assert members and all("rgv" not in pd.read_parquet(io.BytesIO(archive.read(n))).columns for n in members)


def test_importing_into_a_study_computed_here_merges_the_two(smoke_study, tmp_path):
    path = export_bundle("smoke", tmp_path / "smoke.zip", smoke_study)
    local = {"run_id": "0123456789ab", "method": "snip", "sparsity": 0.9, "seed": 7}
    write_study(tmp_path / "runs", "smoke", [local], "python -m pruning sweep here.toml")
    import_bundle(path, tmp_path / "runs")
    record = study_record(tmp_path / "runs", "smoke")
    shipped = study_record(smoke_study, "smoke")
    assert [e["run_id"] for e in record["runs"]] == ["0123456789ab", *[e["run_id"] for e in shipped["runs"]]]
    assert record["command"] == f"python -m pruning sweep here.toml && {shipped['command']}"


def test_a_bundle_adds_to_a_study_only_the_runs_it_holds(tmp_path):
    local = {"run_id": "0123456789ab", "method": "snip", "sparsity": 0.9, "seed": 7}
    write_study(tmp_path, "s", [local], "here")
    study_json = json.dumps({"study": "s", "runs": [{"run_id": "ba9876543210"}], "command": "there"}).encode()
    assert import_bundle(_bundle(tmp_path, {**VALID, "study.json": study_json}), tmp_path) == ("s", [])
    assert study_record(tmp_path, "s")["runs"] == [local]


def _bundle(tmp_path, members: dict[str, bytes]) -> str:
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


VALID = {"bundle.json": json.dumps({"format": 1, "study": "s", "command": ""}).encode(),
         "study.json": json.dumps({"study": "s", "runs": []}).encode()}


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


RGV = "runs/0123456789ab/finetune_rgv.parquet"
MANIFEST = {"runs/0123456789ab/manifest.json": json.dumps({"run_id": "0123456789ab"}).encode()}


@pytest.mark.parametrize("table, message", [
    (b"", "cannot be read"),
    (b"PAR1 not parquet PAR1", "cannot be read"),
    (_parquet(pd.DataFrame({"step": [1], "numerator": [1.0]})), "float columns numerator and denominator"),
    (_parquet(pd.DataFrame({"numerator": ["a"], "denominator": ["b"]})), "float columns numerator and denominator"),
    (_parquet(pd.DataFrame({"numerator": [True], "denominator": [False]})), "float columns numerator and denominator"),
    (_parquet(pd.DataFrame({"numerator": np.zeros(2_000_001), "denominator": np.zeros(2_000_001)})), "rows; at most"),
    (_parquet(pd.DataFrame(columns=["step", "numerator", "denominator"])), "not a finished run"),  # empty: passes
])
def test_an_rgv_table_is_checked_before_its_rgv_is_recomputed(tmp_path, table, message):
    root = tmp_path / "runs"
    with pytest.raises(BundleError, match=message):
        import_bundle(_bundle(tmp_path, {**VALID, **MANIFEST, RGV: table}), root)
    assert not list_runs(root) and not list(root.glob(".tmp-import*"))


@pytest.mark.parametrize("members, message", [
    ({**VALID, "../escape.json": b"{}"}, "not allowed"),
    ({**VALID, "/etc/passwd": b""}, "not allowed"),
    ({**VALID, "runs/../../x/manifest.json": b"{}"}, "not allowed"),
    ({**VALID, "runs/ABCDEF/manifest.json": b"{}"}, "not allowed"),
    ({**VALID, "runs/0123456789ab/model.pkl": b"\x80\x04"}, "not allowed"),
    ({**VALID, "runs/0123456789ab/masks.parquet": b""}, "not allowed"),
    ({**VALID, "runs/0123456789ab/manifest.json": b"{ truncated"}, "not a finished run"),
    ({**VALID, "runs/0123456789ab/manifest.json": json.dumps(
        {"schema_version": 1, "run_id": "0123456789ab", "status": "failed", "method": "snip", "sparsity": 0.5,
         "seed": 0, "config": {}}).encode()}, "not a finished run"),
    ({"bundle.json": VALID["bundle.json"], "study.json": json.dumps({"runs": [{"run_id": "../../etc"}]}).encode()},
     "12 hex digits"),
    ({"bundle.json": json.dumps({"format": 9, "study": "s"}).encode(), "study.json": VALID["study.json"]}, "format"),
    ({"bundle.json": json.dumps({"format": 1, "study": "s\n"}).encode(), "study.json": VALID["study.json"]},
     "sweep.study"),
    ({"bundle.json": json.dumps({"format": 1, "study": "../s"}).encode(), "study.json": VALID["study.json"]},
     "sweep.study"),
    ({"study.json": VALID["study.json"]}, "bundle.json is missing"),
    ({"bundle.json": VALID["bundle.json"], "study.json": json.dumps({"runs": [], "command": "x `rm -r ~`"}).encode()},
     "without backticks"),
    ({"bundle.json": VALID["bundle.json"], "study.json": json.dumps({"runs": [], "command": "a\n# b"}).encode()},
     "one line"),
])
def test_hostile_or_damaged_bundles_are_refused_and_write_nothing(tmp_path, members, message):
    root = tmp_path / "runs"
    with pytest.raises(BundleError, match=message):
        import_bundle(_bundle(tmp_path, members), root)
    assert not list_runs(root) and not list_studies(root)
    assert not root.exists() or not any(p for p in root.iterdir() if p.name != ".studies")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    (tmp_path / "bundle.zip").write_bytes(io.BytesIO(b"not a zip").getvalue())
    with pytest.raises(BundleError, match="not a readable zip"):
        import_bundle(tmp_path / "bundle.zip", tmp_path / "runs")


@pytest.mark.parametrize("where", [0.0, 0.25, 0.5, 0.75])
def test_a_damaged_member_is_refused_and_leaves_no_trace(smoke_study, tmp_path, where):
    """Zeroed bytes inside the largest member's deflate stream give an inflate error (zlib) at its
    start and a CRC error or a damaged run further in: every one is a BundleError."""
    path = export_bundle("smoke", tmp_path / "smoke.zip", smoke_study)
    with zipfile.ZipFile(path) as archive:
        largest = max(archive.infolist(), key=lambda info: info.compress_size)
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[largest.header_offset + 26:largest.header_offset + 30])
    begin = largest.header_offset + 30 + name_length + extra_length
    start = begin + int((largest.compress_size - 64) * where)
    data[start:start + 64] = bytes(64)
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    root = tmp_path / "runs"
    with pytest.raises(BundleError, match=r"cannot be read|not a readable zip|not a finished run"):
        import_bundle(damaged, root)
    assert not list_runs(root) and not list(root.glob(".tmp-import*"))


def test_pruning_from_an_imported_dense_run_recomputes_its_weights_first(smoke_study, tmp_path):
    from dataclasses import replace

    from pruning.config import load_config
    from pruning.runner import execute

    from .conftest import SMOKE

    import_bundle(export_bundle("smoke", tmp_path / "smoke.zip", smoke_study), tmp_path / "runs")
    base = load_config(SMOKE)
    dense = tmp_path / "runs" / base.dense_config().run_id
    assert dense.exists() and not (dense / "model.safetensors").exists()  # shipped: tables only
    execute(replace(base, prune=replace(base.prune, method="random", sparsity=0.6)), tmp_path / "runs")
    assert (dense / "model.safetensors").exists()  # the dense run was computed again, then pruned from
    recomputed = next(r for r in list_runs(tmp_path / "runs") if r.run_id == dense.name)
    original = next(r for r in list_runs(smoke_study) if r.run_id == dense.name)
    pd.testing.assert_frame_equal(load_table(recomputed, "metrics"), load_table(original, "metrics"))


def _structured_bundle(root, tmp_path):
    paths = [r for r in list_runs(root) if r.is_path]
    write_study(root, "structured-smoke", [dict(run_id=r.run_id, method=r.method, sparsity=r.manifest["sparsity"],
                                                seed=r.manifest["seed"]) for r in paths])
    return export_bundle("structured-smoke", tmp_path / "structured.zip", root), paths


def test_structured_runs_travel_with_their_ranking(structured_smoke_runs, tmp_path):
    bundle, paths = _structured_bundle(structured_smoke_runs, tmp_path)
    root = tmp_path / "runs"
    _, added = import_bundle(bundle, root)
    assert {r.run_id for r in paths} <= set(added)
    for run in paths:
        original = SolutionPath.load(run.path / "path.safetensors")
        copied = SolutionPath.load(root / run.run_id / "path.safetensors")
        assert (copied.rank == original.rank).all() and copied.hparams == original.hparams


def test_a_damaged_ranking_is_refused(structured_smoke_runs, tmp_path):
    bundle, _ = _structured_bundle(structured_smoke_runs, tmp_path)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, data[:100] if info.filename.endswith("path.safetensors") else data)
    root = tmp_path / "runs"
    with pytest.raises(BundleError, match=r"path\.safetensors(: header| cannot be read)"):
        import_bundle(damaged, root)
    assert not list_runs(root)
