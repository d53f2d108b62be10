"""Wanda against a brute-force reference that stores every layer input, block after block on the
model with the earlier blocks pruned; padding never counts."""

import pytest
import torch

from pruning import METHODS
from pruning.models import load_model

from .conftest import tiny_inputs

BLOCK_MODULES = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense")


def _padded_batches():
    batches = [tiny_inputs("tiny-bert", seed=s) for s in range(3)]
    for i, batch in enumerate(batches):
        batch["attention_mask"][:, 8 + i:] = 0  # the last tokens are padding
    return batches


def _brute_force_wanda(model, batches, sparsity):
    """Per block in order: store the real tokens' inputs of each linear layer, score
    |W_ij|·‖X_j‖₂, keep the top (1 − s) of each row, zero the rest, go on."""
    bert = model.bert
    stages = [[f"encoder.layer.{i}.{m}" for m in BLOCK_MODULES] for i in range(len(bert.encoder.layer))]
    masks = {}
    for stage in [*stages, ["pooler.dense"]]:
        inputs = {name: [] for name in stage}
        current = {}
        handles = []
        for name in stage:
            def keep(module, args, name=name, inputs=inputs, current=current):
                x = args[0]
                inputs[name].append(x[current["mask"].bool()] if x.dim() == 3 else x)
            handles.append(bert.get_submodule(name).register_forward_pre_hook(keep))
        with torch.no_grad():
            for batch in batches:
                current["mask"] = batch["attention_mask"]
                model(**{k: v for k, v in batch.items() if k != "labels"})
        for handle in handles:
            handle.remove()
        for name in stage:
            weight = bert.get_submodule(name).weight
            x = torch.cat(inputs[name])
            score = weight.detach().abs() * x.norm(dim=0)[None, :]
            keep_per_row = round((1 - sparsity) * weight.shape[1])
            mask = torch.zeros_like(weight, dtype=torch.bool)
            mask.scatter_(1, score.argsort(dim=1, descending=True)[:, :keep_per_row], True)
            with torch.no_grad():
                weight.mul_(mask)
            masks[f"bert.{name}.weight"] = mask
    return masks


def test_row_wanda_equals_the_brute_force_on_a_block_by_block_pruned_model():
    torch.manual_seed(0)
    batches = _padded_batches()
    reference = load_model("tiny-bert", 3).double().eval()
    model = load_model("tiny-bert", 3).double().eval()
    model.load_state_dict(reference.state_dict())
    expected = _brute_force_wanda(reference, batches, 0.6)
    masks, _ = METHODS["wanda"].prune_once(model, batches, 0.6, "row")
    assert masks.keys() == expected.keys()
    for name in masks:
        assert torch.equal(masks[name], expected[name]), name


def test_padding_tokens_do_not_count():
    torch.manual_seed(0)
    batches = _padded_batches()
    other = [dict(b, input_ids=torch.where(b["attention_mask"].bool(), b["input_ids"], 4321)) for b in batches]
    base = load_model("tiny-bert", 3).eval()
    results = []
    for data in (batches, other):
        model = load_model("tiny-bert", 3).eval()
        model.load_state_dict(base.state_dict())
        results.append(METHODS["wanda"].prune_once(model, data, 0.5, "global")[1])
    for name, score in results[0].items():
        torch.testing.assert_close(score, results[1][name])


def test_blocks_after_the_first_are_scored_on_the_pruned_model_and_global_on_the_dense_one():
    torch.manual_seed(0)
    batches = _padded_batches()
    base = load_model("tiny-bert", 3).eval()
    scores = {}
    for allocation in ("row", "global"):
        model = load_model("tiny-bert", 3).eval()
        model.load_state_dict(base.state_dict())
        scores[allocation] = METHODS["wanda"].prune_once(model, batches, 0.7, allocation)[1]
    first = "bert.encoder.layer.0.attention.self.query.weight"
    later = "bert.encoder.layer.1.attention.self.query.weight"
    torch.testing.assert_close(scores["row"][first], scores["global"][first])  # both read the dense block 0
    assert not torch.allclose(scores["row"][later], scores["global"][later])


def test_paper_grouping_is_the_default_variant():
    assert METHODS["wanda"].variants[0].label == "Wanda" and METHODS["wanda"].variants[0].allocation == "row"
    with pytest.raises(ValueError, match="reads linear layers only"):
        METHODS["wanda"].prune_once(load_model("small-cnn", 10), [], 0.5, "row")
