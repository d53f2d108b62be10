"""Sensitivity scans: each matrix pruned alone, checked against a brute-force re-evaluation."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.sensitivity import accuracy_drop, allocation_against_sensitivity, most_sensitive
from analysis.store import list_runs, load_table, read_run
from pruning.architectures import prunable_weights
from pruning.cli import main
from pruning.config import ConfigError, SensitivityConfig, config_from_dict, read_toml
from pruning.runner import prepare
from pruning.sensitivity import lowest
from pruning.train import evaluate

from .conftest import SMOKE, sensitivity_smoke_config


def test_lowest_prunes_exactly_k_the_lowest_first_and_nests():
    scores = torch.tensor([[3.0, 1.0, 1.0], [0.5, 2.0, 1.0]])
    assert lowest(scores, 0.5).tolist() == [3, 1, 2]  # round(0.5 * 6) = 3; the tie at 1.0 by index
    assert lowest(scores, 0.0).numel() == 0 and lowest(scores, 1.0).numel() == 6
    assert set(lowest(scores, 0.34).tolist()) <= set(lowest(scores, 0.67).tolist())


@pytest.mark.parametrize("which", [0, -1])
def test_each_row_equals_the_model_with_only_that_matrix_pruned(smoke_runs, which):
    """Brute force: reload the dense weights, zero the round(s·n) smallest |θ| of one matrix by a
    numpy argsort, evaluate. The last matrix also checks that every earlier one was restored."""
    scan = next(r for r in list_runs(smoke_runs) if r.is_sensitivity)
    config = sensitivity_smoke_config()
    base = read_run(smoke_runs / scan.manifest["base_run"])
    prepared = prepare(config, base.path)
    weight = prunable_weights(prepared.model)[which]
    param = weight.module.get_parameter("weight")
    flat = param.detach().numpy().ravel()
    for sparsity in config.sensitivity.sparsities:
        pruned = flat.copy()
        pruned[np.argsort(np.abs(flat), kind="stable")[:round(sparsity * flat.size)]] = 0
        with torch.no_grad():
            original = param.detach().clone()
            param.copy_(torch.from_numpy(pruned.reshape(param.shape)))
            expected = evaluate(prepared.model, prepared.encoded["validation"].head(64))
            param.copy_(original)
        rows = load_table(scan, "sensitivity")
        got = rows[(rows["name"] == weight.name) & (rows["sparsity"] == sparsity)].set_index("metric")["value"]
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, abs=1e-6), (weight.name, sparsity, metric)
    assert scan.manifest["results"]["dense"]["accuracy"] == pytest.approx(
        evaluate(prepared.model, prepared.encoded["validation"].head(64))["accuracy"])


def test_the_scan_covers_every_matrix_at_every_sparsity_and_writes_no_mask(smoke_runs):
    scan = next(r for r in list_runs(smoke_runs) if r.is_sensitivity)
    rows = load_table(scan, "sensitivity")
    dense = next(r for r in list_runs(smoke_runs) if r.run_id == scan.manifest["base_run"])
    names = set(load_table(dense, "layers")["name"])
    assert set(rows["name"]) == names and scan.manifest["results"]["matrices"] == len(names)
    assert rows.groupby(["name", "sparsity"]).size().eq(4).all()  # loss, accuracy, f1, mcc
    assert not (scan.path / "masks.safetensors").exists() and scan.manifest["sparsity"] is None
    assert "per matrix" in scan.label and scan.method == "sensitivity (magnitude)"


def test_findings_read_the_drop_and_the_rank_correlation():
    scan = pd.DataFrame(dict(name=list("abc"), layer=[0, 0, 1], module=["q", "k", "q"], numel=4,
                             sparsity=0.5, metric="accuracy", value=[0.9, 0.6, 0.8]))
    drops = accuracy_drop(scan, dense=0.9)
    assert drops["drop"].tolist() == pytest.approx([0.0, 0.3, 0.1])
    assert most_sensitive(drops, 0.5) == ("At 50%, layer 0 · key alone costs 30.0 points; "
                                          "1 of 3 matrices cost less than one.")
    spared = pd.DataFrame(dict(name=list("abc"), sparsity=[0.9, 0.1, 0.5]))
    assert allocation_against_sensitivity(spared, drops, 0.5) == pytest.approx(-1.0)
    assert allocation_against_sensitivity(spared.assign(sparsity=0.5), drops, 0.5) is None  # no spread


@pytest.mark.parametrize("override, message", [
    ("sensitivity.sparsities=[0.5, 1.5]", "sensitivity.sparsities: [0.5, 1.5] is not allowed; must be a non-empty"),
    ("sensitivity.criterion=\"taylor\"", "sensitivity.criterion: 'taylor' is not allowed"),
    ("sensitivity.eval_size=-1", "sensitivity.eval_size: -1 is not allowed; must be >= 0"),
    ("prune.sparsity=0.5", "sensitivity: a run has one of [prune], [spp] or [sensitivity], not prune and sensitivity"),
])
def test_bad_sensitivity_input_exits_2_naming_the_field(tmp_path, capsys, override, message):
    config = tmp_path / "scan.toml"
    config.write_text(SMOKE.read_text().replace("[prune]\nmethod = \"magnitude\"\nsparsity = 0.5\n", "")
                      + "\n[sensitivity]\nsparsities = [0.5]\n")
    config_from_dict(read_toml(config))  # the file itself is valid
    if override.startswith("prune."):
        config.write_text(config.read_text() + "\n[prune]\nmethod = \"magnitude\"\n")
    assert main(["run", str(config), "--runs", str(tmp_path / "runs"), "--set", override]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_scan_has_its_own_run_id_and_leaves_older_ids_alone():
    config = sensitivity_smoke_config()
    dense = config.dense_config()
    assert config.run_id != dense.run_id and "sensitivity" not in dense.canonical()
    assert replace(config, sensitivity=SensitivityConfig(sparsities=[0.5])).run_id != config.run_id
    with pytest.raises(ConfigError, match=r"sensitivity\.sparsities"):
        SensitivityConfig(sparsities=[])
