"""Config loading: TOML, overrides, every bad field named with its allowed values, run_id."""

import pytest

from pruning.config import ConfigError, config_from_dict, load_config

from .conftest import SMOKE


def test_smoke_loads_and_overrides_apply():
    config = load_config(SMOKE, ["prune.sparsity=0.7", 'prune.method="random"', "seed=3"])
    assert (config.prune.sparsity, config.prune.method, config.seed) == (0.7, "random", 3)


def test_run_id_depends_on_the_result_defining_fields_only():
    a = load_config(SMOKE)
    assert a.run_id == load_config(SMOKE).run_id
    assert a.run_id != load_config(SMOKE, ["prune.sparsity=0.6"]).run_id
    dense = a.dense_config()
    assert dense.prune is None and dense.run_id != a.run_id
    # a dense run does not depend on the recovery budget of the runs that prune it
    assert dense.run_id == load_config(SMOKE, ["finetune.steps=99"]).dense_config().run_id


SEVEN, GRASP = {"method": "seven"}, {"method": "grasp"}


@pytest.mark.parametrize("values, message", [
    ({"prune": {"method": "snap"}}, "prune.method: 'snap' is not allowed; allowed: grasp, magnitude"),
    ({"prune": {"sparsity": 1.0}}, r"prune.sparsity: 1.0 is not allowed; must be in \[0, 1\)"),
    ({"prune": {"allocation": "rows"}},
     "prune.allocation: 'rows' is not allowed; allowed: global, layer, module, row, 2:4, 4:8"),
    ({"prune": {"sparsity": "half"}}, "prune.sparsity: expected float"),
    ({"dense": {"decay": "step"}}, "dense.decay: 'step' is not allowed; allowed: linear, cosine, constant"),
    ({"dense": {"steps": 1.5}}, "dense.steps: expected int"),
    ({"model": {"nmae": "x"}}, "model.nmae: unknown field; allowed: name, max_length"),
    ({"colour": 1}, "colour: unknown field; allowed: seed, model, data, dense, prune, finetune"),
    ({"data": {"val_fraction": 0.6, "test_fraction": 0.5}}, "val_fraction \\+ data.test_fraction"),
    ({"prune": {"hparams": {"beta": 1}}}, "prune.hparams.beta: unknown to magnitude; allowed: none"),
    ({"prune": {**SEVEN, "hparams": {"beta1": 1.0}}}, r"prune.hparams.beta1: 1.0 is not allowed; must be in \[0, 1\)"),
    ({"prune": {**SEVEN, "hparams": {"variant": "odd"}}},
     "prune.hparams.variant: 'odd' is not allowed; must be one of abs, signed"),
    ({"prune": {**GRASP, "hparams": {"temperature": "hot"}}}, "prune.hparams.temperature: expected float"),
    ({"prune": {"method": "sparsegpt", "allocation": "global"}},
     "prune.allocation: 'global' is not allowed; must be one of module, 2:4, 4:8 for sparsegpt"),
    ({"prune": {"method": "wanda", "allocation": "2:4", "sparsity": 0.7}},
     r"prune.sparsity: 0.7 is not allowed with allocation 2:4; must be 0\.5"),
    ({"prune": {"method": "snip", "schedule": "iterative", "allocation": "2:4"}},
     "prune.schedule: 'iterative' is not allowed; must be one-shot with allocation 2:4"),
    ({"finetune": {"lr": float("inf")}}, "finetune.lr: inf is not allowed; must be a finite number"),
    ({"spp": {"alpha": float("nan")}}, "spp.alpha: nan is not allowed; must be a finite number"),
    ({"prune": {"method": "wanda", "schedule": "gradual"}},
     "prune.schedule: 'gradual' is not allowed; must be one of one-shot for wanda"),
])
def test_bad_fields_are_named_with_allowed_values(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values)


def test_bad_files_and_overrides(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("seed = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match=r"expected section\.field=value"):
        load_config(SMOKE, ["sparsity"])


def test_presets_are_per_schedule():
    gradual = config_from_dict({"prune": {"method": "seven", "schedule": "gradual", "preset": "sst-2"},
                                "finetune": {"steps": 6000}})
    assert gradual.prune.resolved_hparams(0)["beta1"] == 0.8 and gradual.prune.window(6000) == (1000, 4000)
    pre = config_from_dict({"prune": {"method": "seven", "preset": "sst-2"}})
    assert (pre.prune.resolved_hparams(0)["beta1"], pre.prune.resolved_hparams(0)["beta2"]) == (0.5, 0.7)
    with pytest.raises(ConfigError, match="must be empty: snip has no preset on one-shot"):
        config_from_dict({"prune": {"method": "snip", "preset": "sst-2"}})


def test_a_method_s_default_allocation_and_labels_with_presets():
    assert config_from_dict({"prune": {"method": "wanda"}}).label == "Wanda"  # per output row, as the paper
    assert config_from_dict({"prune": {"method": "sparsegpt"}}).prune.allocation == "module"
    assert config_from_dict({"prune": {"method": "wanda", "allocation": "global"}}).label == "Wanda (global)"
    assert config_from_dict({"prune": {"method": "snip"}}).prune.allocation == "global"
    assert config_from_dict({"prune": {"method": "seven", "preset": "sst-2"}}).label == "SEVENpre"
    gradual = {"method": "seven", "schedule": "gradual", "preset": "authors"}
    assert config_from_dict({"prune": gradual, "finetune": {"steps": 100}}).label == "SEVENdyn (authors' schedule)"


def test_a_config_read_back_from_its_manifest_is_the_same_run():
    """A manifest stores unset optional fields (spp.lam, a dense run's prune) as null: reading it
    back gives the same run (export of an SPP run without spp.lam once failed on it)."""
    import json

    values = json.loads(json.dumps(load_config("configs/spp.toml").canonical()))
    values["spp"]["lam"] = None
    config = config_from_dict(values)
    assert config.spp.lam is None and config.spp.threshold == 1.0
    assert config_from_dict(json.loads(json.dumps(config.canonical()))).run_id == config.run_id
    dense = json.loads(json.dumps(config.dense_config().canonical()))
    assert config_from_dict({**dense, "prune": None, "spp": None}).is_dense
