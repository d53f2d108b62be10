"""An SPP run end to end on the smoke config: artifacts, read-offs, recovery, costs, export, bad input."""

import re

import numpy as np
import pytest
import torch

from analysis.solution_path import SolutionPath
from analysis.store import load_table, read_run
from pruning.cli import main
from pruning.compress import load_compressed
from pruning.config import ConfigError, config_from_dict, read_toml
from pruning.onnx_export import OnnxClassifier

from .conftest import SMOKE, spp_smoke_config


@pytest.fixture(scope="module")
def spp_run(smoke_runs):
    config = spp_smoke_config()
    return read_run(smoke_runs / config.run_id), config


def test_run_records_the_path_read_offs_recovery_and_costs(spp_run):
    run, config = spp_run
    assert run.status == "done" and run.is_path and run.method == "SPP"
    assert run.label.startswith("tiny-bert · sms-spam · SPP · path · seed 0")
    assert run.manifest["base_run"] == config.dense_config().run_id
    path = SolutionPath.load(run.path / "path.safetensors")
    assert path.gamma.shape[1] == 12 and path.hparams["steps"] == 60
    metrics = load_table(run, "metrics")
    assert set(metrics["split"]) == {"dense", "path", "readoff", "recovered", "recovered-test"}
    readoff = metrics[(metrics["split"] == "readoff") & (metrics["metric"] == "accuracy")]
    assert sorted(readoff["sparsity"]) == config.spp.grid
    along = metrics[(metrics["split"] == "path") & (metrics["metric"] == "accuracy")]
    assert list(along["step"]) == list(path.steps)
    np.testing.assert_allclose(along["value"], path.accuracy)
    # the path's sparsity column is that of the support of Γ at each checkpoint
    support = [path.sparsity_of(path.gamma[:, c] != 0) for c in range(len(path.steps))]
    np.testing.assert_allclose(along["sparsity"], support)
    speed = load_table(run, "speed")
    by_model = speed[speed["sparsity"] == 0.5].set_index("model")
    assert by_model.loc["compressed", "params"] < by_model.loc["dense", "params"] == by_model.loc["masked", "params"]
    assert by_model.loc["compressed", "flops"] < by_model.loc["dense", "flops"]
    assert set(run.manifest["results"]["recovered"]) == {"0.3", "0.5", "0.7"}


def test_export_writes_a_compressed_and_a_masked_model(spp_run, tmp_path, capsys):
    run, _ = spp_run
    assert main(["export", run.run_id, "--sparsity", "0.5", "--out", str(tmp_path / "sub"),
                 "--runs", str(run.path.parent)]) == 0
    small = load_compressed(tmp_path / "sub" / "compressed")
    import transformers

    masked = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "sub" / "masked").eval()
    ids = torch.randint(1000, 5000, (3, 10))
    with torch.no_grad():
        torch.testing.assert_close(small(input_ids=ids).logits, masked(input_ids=ids).logits, rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in masked.parameters())
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    onnx = OnnxClassifier(tmp_path / "sub" / "compressed.onnx").logits(batch)
    np.testing.assert_allclose(onnx, masked(**batch).logits.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_export_refuses_a_dense_run(spp_run, tmp_path, capsys):
    run, config = spp_run
    assert main(["export", config.dense_config().run_id, "--sparsity", "0.5", "--out", str(tmp_path / "x"),
                 "--runs", str(run.path.parent)]) == 2
    assert "is not a finished pruned run (method dense" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("field, value, message", [
    ("variant", '"fast"', "spp.variant: 'fast' is not allowed; must be one of paper, code"),
    ("budget", '"layer"', "spp.budget: 'layer' is not allowed; allowed: global, per_pool, authors"),
    ("grid", "[0.5, 1.5]", "spp.grid"),
    ("steps", "0", "spp.steps: 0 is not allowed"),
    ("method", '"lottery"', "spp.method: 'lottery' is not allowed; allowed: SPP, SPP, |∂L/∂M| order (ours), "
                            "Taylor (structured), lasso (structured), lasso, parameter-priced (ours), "
                            "magnitude (structured), magnitude (structured, uniform), random (structured)"),
    ("score_batches", "0", "spp.score_batches: 0 is not allowed; must be >= 1"),
    ("target", "1.0", "spp.target: 1.0 is not allowed; must be a sparsity in (0, 1)"),
    ("method", '"lasso (structured)"', "spp.recover: [0.3, 0.5, 0.7] is not allowed for lasso (structured), "
                                       "which searches for one target: must be [spp.target] = [0.5]"),
])
def test_bad_spp_fields_are_named(field, value, message):
    values = read_toml(SMOKE, [f"spp.{field}={value}"])
    values.pop("prune")
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(values)


def test_prune_and_spp_together_are_refused(tmp_path, capsys):
    config = tmp_path / "both.toml"
    config.write_text(SMOKE.read_text() + "\n[spp]\nsteps = 5\n")
    assert main(["run", str(config), "--runs", str(tmp_path / "runs")]) == 2
    assert "one of [prune], [spp] or [sensitivity], not prune and spp" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
