"""Structured QK/VO/FFN masks and compression, on the five tiny architectures (and CLIP's two towers)."""

import copy

import pytest
import torch
import transformers

from pruning.compress import bake, compress, load_compressed, save_compressed
from pruning.models import load_model
from pruning.structured import KINDS, masked, ones, structured_blocks

from .conftest import ARCHITECTURES, clip_model, tiny_inputs


def random_masks(blocks, seed=0, keep=0.5):
    """Bool masks keeping about `keep` of every kind; block 0 keeps no QK dim, the last no VO dim."""
    g = torch.Generator().manual_seed(seed)
    masks = {kind: [torch.rand(b.sizes[kind], generator=g) < keep for b in blocks] for kind in KINDS}
    masks["qk"][0][:] = False
    masks["vo"][-1][:] = False
    return masks


def as_float(masks):
    return {kind: [m.float() for m in vectors] for kind, vectors in masks.items()}


def logits(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def padded_inputs(name):
    inputs = tiny_inputs(name)
    if "attention_mask" in inputs:
        inputs["attention_mask"][0, 8:] = 0  # padding must stay masked after compression
    return inputs


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_entry_params_cover_every_structured_parameter(name):
    """Σ entries x parameters per entry = every q/k/v/o/FFN weight and bias except the output biases."""
    model = load_model(name, 3)
    blocks = structured_blocks(model)
    expected = covered = 0
    for block in blocks:
        covered += sum(block.sizes[k] * block.entry_params(k) for k in KINDS)
        for role, module in block.modules.items():
            expected += module.weight.numel()
            if module.bias is not None and role not in ("o", "ffn_out"):
                expected += module.bias.numel()
    assert covered == expected


def test_bert_entry_params_match_the_algorithm_notes():
    block = structured_blocks(load_model("tiny-bert", 3))[0]
    heads, d = 4, 32
    assert block.sizes == {"qk": 8, "vo": 8, "ffn": 64}
    assert block.entry_params("qk") == 2 * heads * (d + 1)
    assert block.entry_params("vo") == heads * (2 * d + 1)
    assert block.entry_params("ffn") == 2 * d + 1


def test_llama_grouped_heads_and_rotary_pairs():
    block = structured_blocks(load_model("tiny-llama", 3))[0]
    assert (block.heads, block.kv_heads, block.head_dim) == (4, 2, 8)
    assert block.sizes["qk"] == 4  # one entry per rotary pair (j, j + 4)
    assert block.entry_params("qk") == 2 * (4 + 2) * 32
    assert block.entry_params("ffn") == 3 * 32


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_all_ones_masks_change_nothing(name):
    model = load_model(name, 3).eval()
    inputs = tiny_inputs(name)
    with masked(model, ones(structured_blocks(model))):
        hooked = logits(model, inputs)
    torch.testing.assert_close(hooked, logits(model, inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_compressed_and_baked_models_equal_the_masked_model(name):
    model = load_model(name, 3).eval()
    blocks = structured_blocks(model)
    masks = random_masks(blocks)
    inputs = padded_inputs(name)
    with masked(model, as_float(masks)):
        reference = logits(model, inputs)
    small = compress(model, masks)
    torch.testing.assert_close(logits(small, inputs), reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits(bake(copy.deepcopy(model), masks), inputs), reference, rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())
    # the original is untouched
    torch.testing.assert_close(logits(model, inputs), logits(load_model(name, 3).eval(), inputs))


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2", "tiny-llama"])
def test_placeholders_of_empty_blocks_get_no_gradient(name):
    """A block keeping no VO dim or FFN neuron keeps an all-zero placeholder that recovery cannot revive."""
    model = load_model(name, 3).eval()
    blocks = structured_blocks(model)
    masks = {kind: [torch.ones(b.sizes[kind], dtype=torch.bool) for b in blocks] for kind in KINDS}
    masks["vo"][0][:] = False
    masks["ffn"][0][:] = False
    small = compress(model, masks)
    small(**tiny_inputs(name)).loss.backward()
    block = small.get_submodule(blocks[0].name)
    layout = blocks[0].layout
    roles = ["o", "ffn_in", "ffn_out", *(["v"] if "v" in layout.roles else [])]
    for role in roles:  # every remaining o column and FFN neuron of block 0 is the zero placeholder
        module = block.get_submodule(layout.roles[role])
        assert module.weight.abs().max() == 0 and module.weight.grad.abs().max() == 0, role


def test_compression_slices_every_projection():
    model = load_model("tiny-llama", 3).eval()
    masks = random_masks(structured_blocks(model))
    masks["qk"][0][1] = True
    layer = compress(model, masks).model.layers[0]
    qk, vo, ffn = (int(masks[k][0].sum()) for k in KINDS)
    assert qk and vo and ffn
    attention, mlp = layer.self_attn, layer.mlp
    assert attention.q_proj.weight.shape == (4 * 2 * qk, 32) and attention.k_proj.weight.shape == (2 * 2 * qk, 32)
    assert attention.v_proj.weight.shape == (2 * vo, 32) and attention.o_proj.weight.shape == (32, 4 * vo)
    assert mlp.gate_proj.weight.shape == mlp.up_proj.weight.shape == (ffn, 32)
    assert mlp.down_proj.weight.shape == (32, ffn)


def test_deit_shares_vit_blocks_and_compresses_equal():
    torch.manual_seed(0)
    model = transformers.DeiTForImageClassification(transformers.DeiTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=28,
        patch_size=7, num_channels=1, num_labels=3)).eval()
    masks = random_masks(structured_blocks(model), seed=4)
    inputs = tiny_inputs("tiny-vit")
    with masked(model, as_float(masks)):
        reference = logits(model, inputs)
    torch.testing.assert_close(logits(compress(model, masks), inputs), reference, rtol=1e-5, atol=1e-6)


def test_clip_text_and_vision_towers_compress_together():
    model = clip_model()
    blocks = structured_blocks(model)
    assert [b.name.split(".")[0] for b in blocks] == ["vision_model"] * 2 + ["text_model"] * 2
    masks = random_masks(blocks, seed=3)
    inputs = {"input_ids": torch.randint(1000, 5000, (2, 7)), "pixel_values": torch.randn(2, 1, 28, 28)}

    def outputs(m):
        with torch.no_grad():
            out = m(**inputs)
        return out.text_embeds, out.image_embeds

    with masked(model, as_float(masks)):
        reference = outputs(model)
    for got, want in zip(outputs(compress(model, masks)), reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2", "tiny-llama"])
def test_saved_compressed_model_loads_back_equal(name, tmp_path):
    model = load_model(name, 3).eval()
    masks = random_masks(structured_blocks(model), seed=1)
    inputs = padded_inputs(name)
    save_compressed(model, masks, tmp_path / "small")
    loaded = load_compressed(tmp_path / "small")
    torch.testing.assert_close(logits(loaded, inputs), logits(compress(model, masks), inputs))


def test_masked_model_saves_with_save_pretrained(tmp_path):
    model = load_model("tiny-bert", 3).eval()
    masks = random_masks(structured_blocks(model), seed=2)
    baked = bake(copy.deepcopy(model), masks)
    baked.save_pretrained(tmp_path / "masked")
    again = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "masked").eval()
    inputs = tiny_inputs("tiny-bert")
    torch.testing.assert_close(logits(again, inputs), logits(baked, inputs))


def test_unsupported_model_names_the_supported_ones():
    with pytest.raises(ValueError, match="supported: bert, clip, deit, gpt2, llama, vit"):
        structured_blocks(load_model("small-cnn", 3))
