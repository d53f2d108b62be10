"""Loading from a local path (text and image), and an image run end to end on Fashion-MNIST."""

import json

import pytest

from pruning.config import config_from_dict
from pruning.models import is_image_model, load_model
from pruning.runner import execute


@pytest.mark.parametrize("name, image", [("tiny-bert", False), ("tiny-vit", True)])
def test_a_saved_model_loads_back_from_its_path(tmp_path, name, image):
    load_model(name, 3).save_pretrained(tmp_path / name)
    path = str(tmp_path / name)
    assert is_image_model(path) == image
    model = load_model(path, 4)  # a fresh 4-way head on the saved body
    assert model.config.num_labels == 4 and type(model).__name__.endswith(
        "ForImageClassification" if image else "ForSequenceClassification")


@pytest.mark.slow
def test_tiny_vit_on_fashion_mnist_learns_and_prunes(tmp_path):
    config = config_from_dict({
        "model": {"name": "tiny-vit"},
        "data": {"name": "fashion-mnist", "max_train": 2000, "max_eval": 300},
        "dense": {"steps": 300, "lr": 3e-3, "batch_size": 32, "warmup": 0.05},
        "prune": {"method": "magnitude", "sparsity": 0.6},
        "finetune": {"steps": 20, "lr": 1e-3, "batch_size": 32},
    })
    path = execute(config, tmp_path)
    dense = json.loads((tmp_path / config.dense_config().run_id / "manifest.json").read_text())
    assert dense["results"]["validation"]["accuracy"] > 0.5  # 10 classes: chance is 0.1
    pruned = json.loads((path / "manifest.json").read_text())
    assert pruned["results"]["kept_weights"] <= round(0.4 * pruned["results"]["prunable_weights"])
