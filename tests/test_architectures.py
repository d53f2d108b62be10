"""The one prunable-parameter rule and the per-architecture module table, on five architectures."""

import pytest
import torch

from pruning import prunable_parameters
from pruning.architectures import LAYOUTS, layout_of, prunable_weights
from pruning.models import load_model

from .conftest import ARCHITECTURES

EXPECTED_ROLES = {
    "tiny-bert": ["q", "k", "v", "o", "ffn_in", "ffn_out"],
    "tiny-vit": ["q", "k", "v", "o", "ffn_in", "ffn_out"],
    "tiny-clip": ["q", "k", "v", "o", "ffn_in", "ffn_out"],
    "tiny-gpt2": ["qkv", "o", "ffn_in", "ffn_out"],
    "tiny-llama": ["q", "k", "v", "o", "ffn_gate", "ffn_in", "ffn_out"],
}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_table_names_every_block_linear(name):
    model = load_model(name, num_labels=3)
    weights = prunable_weights(model)
    blocks = [w for w in weights if w.layer is not None]
    assert [w.role for w in blocks if w.layer == 0] == EXPECTED_ROLES[name]
    assert {w.layer for w in blocks} == {0, 1}
    # every 2-D weight inside a block is in the table, and nothing else of the block is
    block_prefix = blocks[0].name.split(".0.")[0] + "."
    in_blocks = {n for n, p in model.named_parameters() if n.startswith(block_prefix) and p.dim() == 2}
    assert in_blocks == {w.name for w in blocks}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_rule_excludes_embeddings_norms_biases_and_head(name):
    model = load_model(name, num_labels=3)
    names = set(prunable_parameters(model))
    assert names and all(n.endswith(".weight") for n in names)
    for n, p in model.named_parameters():
        lowered = n.lower()
        if p.dim() < 2 or "embed" in lowered or "wte" in lowered or "wpe" in lowered:
            assert n not in names
        if n.startswith(("classifier", "score")):
            assert n not in names


def test_bert_pooler_is_prunable_and_gpt2_fused_qkv_is_transposed():
    bert = load_model("tiny-bert", 2)
    assert "bert.pooler.dense.weight" in prunable_parameters(bert)
    gpt2 = load_model("tiny-gpt2", 2)
    qkv = next(w for w in prunable_weights(gpt2) if w.role == "qkv")
    assert LAYOUTS["gpt2"].fused_qkv and LAYOUTS["gpt2"].transposed
    assert qkv.module.weight.shape == (32, 96)  # (in, 3 x out)


def test_llama_grouped_kv_heads_are_narrower():
    model = load_model("tiny-llama", 2)
    shapes = {w.role: tuple(w.module.weight.shape) for w in prunable_weights(model) if w.layer == 0}
    assert shapes["q"] == (32, 32) and shapes["k"] == (16, 32) and shapes["v"] == (16, 32)


def test_unsupported_architecture_lists_the_supported_ones():
    with pytest.raises(ValueError, match="supported: bert, clip, deit, gpt2, llama, small-cnn, vit"):
        layout_of(torch.nn.Linear(2, 2))


def test_small_cnn_prunes_its_convolutions_and_hidden_layer_not_its_head():
    model = load_model("small-cnn", 10)
    assert {w.name: (w.layer, w.role) for w in prunable_weights(model)} == {
        "blocks.0.conv.weight": (0, "conv"), "blocks.1.conv.weight": (1, "conv"), "fc.weight": (None, "fc")}
