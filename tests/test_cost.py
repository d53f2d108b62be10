"""What a model costs: FLOPs against a hand count, latencies of every model asked for."""

import torch

from pruning.cost import flops_per_example, latencies_ms, parameters
from pruning.models import load_model

from .conftest import tiny_inputs


def test_flops_are_the_linear_layers_counted_by_hand():
    """tiny-bert: 2 layers x (q, k, v, o: h x h; FFN: h x 4h and 4h x h) per token, then the
    pooler (h x h) and classifier (h x 3) on the [CLS] token only; 2 FLOPs per multiply-add."""
    model = load_model("tiny-bert", 3).eval()
    inputs = tiny_inputs("tiny-bert", batch=4)
    inputs.pop("labels")
    layers, h, ffn, tokens = 2, 32, 64, inputs["input_ids"].shape[1]
    per_token = 2 * (4 * h * h + 2 * h * ffn)
    expected = layers * per_token * tokens + 2 * (h * h + h * 3)
    assert flops_per_example(lambda b: model(**b), inputs) == expected


def test_latencies_time_every_forward_and_parameters_count_them():
    model = load_model("tiny-bert", 3).eval()
    inputs = tiny_inputs("tiny-bert")
    inputs.pop("labels")
    timed = latencies_ms({"a": lambda b: model(**b), "b": lambda b: model(**b)}, inputs, repeats=3)
    assert set(timed) == {"a", "b"} and all(t > 0 for t in timed.values())
    assert parameters(model) == sum(p.numel() for p in model.parameters()) and parameters(torch.nn.Linear(2, 3)) == 9
