"""ONNX export of compressed sub-networks: onnxruntime gives the masked model's logits on every
tiny classifier that compresses, for a batch size and length other than the traced ones."""

import numpy as np
import pytest
import torch

from pruning.compress import compress
from pruning.models import load_model
from pruning.onnx_export import OnnxClassifier, example_batch, export_onnx, model_inputs
from pruning.structured import masked, structured_blocks

from .test_structured import as_float, random_masks, tiny_inputs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny-bert", "tiny-vit", "tiny-gpt2", "tiny-llama"])
def test_onnxruntime_equals_the_masked_model(name, tmp_path):
    model = load_model(name, 3).eval()
    masks = random_masks(structured_blocks(model), seed=2)
    path = export_onnx(compress(model, masks), example_batch(model), tmp_path / "small.onnx")
    batch = model_inputs(tiny_inputs(name, batch=5, seed=1))
    if "input_ids" in batch:
        batch = {k: v[:, :9] for k, v in batch.items()}
        batch["attention_mask"][0, 6:] = 0
    with torch.no_grad(), masked(model, as_float(masks)):
        reference = model(**batch).logits.numpy()
    np.testing.assert_allclose(OnnxClassifier(path).logits(batch), reference, rtol=1e-4, atol=1e-5)
