"""Runs of the smoke config, end to end in-process: what a run records and that it is right."""

import pytest
import torch
from safetensors.torch import load_file

from analysis.store import list_runs, load_table, load_tensors
from pruning import masks_from_scores


def _runs(root, paths: bool = False):
    """(method, sparsity) -> run; SPP paths (sparsity None) only when `paths`."""
    return {(r.manifest["method"], r.manifest["sparsity"]): r for r in list_runs(root)
            if paths or r.at_one_sparsity}


def test_manifest_records_seed_versions_data_hash_and_base(smoke_runs):
    runs = _runs(smoke_runs, paths=True)
    assert set(runs) == {("dense", 0.0), ("magnitude", 0.5), ("magnitude", 0.9), ("random", 0.5),
                         ("random", 0.9), ("spp", None), ("sensitivity", None)}
    dense = runs[("dense", 0.0)]
    for run in runs.values():
        m = run.manifest
        assert m["status"] == "done" and m["seed"] == 0 and len(m["data"]["hash"]) == 64
        assert m["data"]["hash"] == dense.manifest["data"]["hash"]
        assert {"torch", "transformers", "python", "prunescope"} <= set(m["versions"])
        if run is not dense:
            assert m["base_run"] == dense.run_id


def test_masks_are_exact_and_magnitude_masks_come_from_the_dense_weights(smoke_runs):
    runs = _runs(smoke_runs)
    dense_weights = load_file(runs[("dense", 0.0)].path / "model.safetensors")
    for (method, sparsity), run in runs.items():
        if method == "dense":
            continue
        masks = {k: torch.from_numpy(v) for k, v in load_tensors(run, "masks").items()}
        total = sum(m.numel() for m in masks.values())
        assert sum(int(m.sum()) for m in masks.values()) == round((1 - sparsity) * total)
        layers = load_table(run, "layers")
        assert layers["nonzero"].sum() <= round((1 - sparsity) * total)  # recovery kept zeros
        assert set(layers["name"]) == set(masks)
        if method == "magnitude":
            expected = masks_from_scores({k: dense_weights[k].abs() for k in masks}, sparsity)
            assert all(torch.equal(expected[k], masks[k]) for k in masks)


def test_metrics_are_long_format_with_evaluations_before_and_after_recovery(smoke_runs):
    run = _runs(smoke_runs)[("magnitude", 0.5)]
    metrics = load_table(run, "metrics")
    val = metrics[(metrics.split == "validation") & (metrics.metric == "accuracy")]
    assert val["step"].tolist() == [0, 10]  # after pruning, then after recovery
    assert set(metrics["metric"]) >= {"loss", "accuracy", "f1", "mcc"}
    assert (metrics[metrics.split == "train"]["step"] == range(1, 11)).all()
    final = run.manifest["results"]["validation"]["accuracy"]
    assert final == val["value"].iloc[-1]


@pytest.mark.parametrize("changes, message", [
    (["model.max_length=1024"],
     "model.max_length: 1024 is not allowed; must be <= 128, the positions tiny-bert embeds"),
    (['model.name="small-cnn"', 'data.name="fashion-mnist"', "data.max_train=64"],
     "model.name: small-cnn: model type 'small-cnn' is not supported by structured pruning"),
])
def test_what_the_model_cannot_do_is_refused_before_any_training(tmp_path, changes, message):
    from pruning.config import ConfigError, load_config
    from pruning.runner import execute

    config = load_config("configs/spp.toml", ['model.name="tiny-bert"', "dense.steps=2", *changes])
    with pytest.raises(ConfigError, match=message):
        execute(config, tmp_path)
    assert not any(tmp_path.iterdir())  # not even the dense run


def test_a_method_that_reads_linear_inputs_is_refused_on_a_cnn_before_any_training(tmp_path):
    from pruning.config import ConfigError, config_from_dict
    from pruning.runner import execute

    config = config_from_dict({"model": {"name": "small-cnn"}, "data": {"name": "fashion-mnist", "max_train": 64},
                               "dense": {"steps": 5}, "prune": {"method": "wanda", "allocation": "module"}})
    with pytest.raises(ConfigError, match="wanda reads the inputs of linear layers; small-cnn prunes Conv2d"):
        execute(config, tmp_path)
    assert not any(tmp_path.iterdir())  # not even the dense run


def test_a_run_whose_loss_diverges_stops_failed_at_the_step_it_diverged(tmp_path):
    """A learning rate of 1e30 sends tiny-bert's loss to NaN or inf within a few steps: the run
    stops there, recorded failed with the step, and is never listed done."""
    from pruning.config import load_config
    from pruning.runner import execute
    from pruning.train import Divergence

    config = load_config("configs/smoke.toml", ["dense.lr=1e30"]).dense_config()
    with pytest.raises(Divergence, match=r"fine-tune dense: the (loss|gradient norm) is (nan|inf|-inf) at step \d+"):
        execute(config, tmp_path)
    [run] = list_runs(tmp_path)
    assert run.status == "failed" and "at step" in run.manifest["error"]
