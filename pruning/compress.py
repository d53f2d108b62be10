"""Structured masks -> a genuinely smaller model whose outputs equal the masked model's.

Per block, with kept QK dims P, kept VO dims V and kept FFN neurons F (structured.py):
    q, k rows  P of every head        v rows, o columns  V of every head
    FFN in (and gate) rows F          FFN out columns    F
so every projection is a smaller matmul and q·k has |P| terms per head, p·v |V| columns.
The score scale stays the original 1/√d_h (the HF modules keep the `scaling` they were built
with); a block with no QK dim attends uniformly and one with no VO dim keeps only the output
bias, exactly as the masked model does. HF code (and ONNX's Reshape) cannot reshape empty
tensors, so a block that keeps no QK dim, no VO dim or no FFN neuron keeps one placeholder whose
weights and biases are all zero: it adds nothing to the outputs (a zero QK dim leaves every score
at 0, so attention stays uniform) and, its gradients being zero too, recovery cannot revive it.

The HF attention modules reshape with one head size for q, k and v; a compressed block sets
it to 1 and runs the registered attention implementation "prunescope", which regroups the
packed features into heads of |P| and |V| dims (and rotates the kept rotary pairs with the
matching slice of cos/sin) before calling PyTorch's scaled_dot_product_attention, with q, k and
v zero-padded to one head size so that its fused CPU kernel runs (q·k and p·v are unchanged).
"""

import copy
import json
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_model as load_weights
from safetensors.torch import save_model as save_weights
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .structured import HEAD_DIM_ATTRIBUTES, KINDS, StructuredBlock, controlled_features, structured_blocks, weight_dim

IMPLEMENTATION = "prunescope"
SPEC_FILE = "prunescope.json"


def _heads(packed: torch.Tensor, heads: int, dims: int) -> torch.Tensor:
    """(B, heads·dims, T, 1) as the HF module hands it over -> (B, heads, T, dims)."""
    batch, _, length, _ = packed.shape
    return packed.transpose(1, 2).reshape(batch, length, heads, dims).transpose(1, 2)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def sliced_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, rotary=None,
                     **kwargs):
    """Attention of a compressed block: regroup, rotate the kept pairs, then SDPA."""
    heads, kv_heads, qk, vo = module.prunescope_shape
    query, key, value = _heads(query, heads, qk), _heads(key, kv_heads, qk), _heads(value, kv_heads, vo)
    if rotary is not None:
        cos, sin = (t[..., module.prunescope_rotary].unsqueeze(1) for t in rotary)
        query = query * cos + _rotate_half(query) * sin
        key = key * cos + _rotate_half(key) * sin
    width = max(qk, vo)  # PyTorch's fused CPU kernel needs one head size; zero columns change nothing
    if qk < width:
        query, key = F.pad(query, (0, width - qk)), F.pad(key, (0, width - qk))
    if vo < width:
        value = F.pad(value, (0, width - vo))
    output, weights = sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                             scaling=scaling, **kwargs)
    return (output[..., :vo] if vo < width else output), weights


ALL_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, sliced_attention)
ALL_MASK_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, sdpa_mask)


def _defer_rotation(module, args, kwargs):
    """Hand the rotary cos/sin to sliced_attention and let the HF module rotate by the identity
    (head size 1: rotate_half(x) = −x, so x·1 + (−x)·0 = x)."""
    cos, sin = kwargs["position_embeddings"]
    kwargs["rotary"] = (cos, sin)
    kwargs["position_embeddings"] = (torch.ones_like(cos[..., :1]), torch.zeros_like(sin[..., :1]))
    return args, kwargs


def kept_features(block: StructuredBlock, kept: dict[str, torch.Tensor]) -> dict[str, tuple[str, torch.Tensor]]:
    """role -> ("out" | "in", indices of the features that stay) for a block's bool masks `kept`."""
    found = {}
    for role, side, _kind, index, _owner in controlled_features(block, kept):
        found[role] = (side, torch.cat([found[role][1], index]) if role in found else index)
    return found


def _slice(module: nn.Module, side: str, index: torch.Tensor, transposed: bool) -> None:
    """Keep only features `index` of one side of a linear module (weights and, out side, bias)."""
    index = index.to(module.weight.device)
    module.weight = nn.Parameter(module.weight.detach().index_select(weight_dim(side, transposed), index))
    if side == "out" and module.bias is not None:
        module.bias = nn.Parameter(module.bias.detach()[index])
    names = {("out", False): "out_features", ("in", False): "in_features", ("out", True): "nf",
             ("in", True): "nx"}
    setattr(module, names[side, transposed], len(index))


def _zero(block: StructuredBlock, features: dict[str, tuple[str, torch.Tensor]]) -> None:
    """Zero, in place, the weights (and out-side biases) of the given features of a block."""
    for role, (side, index) in features.items():
        module = block.modules[role]
        index = index.to(module.weight.device)
        with torch.no_grad():
            module.weight.index_fill_(weight_dim(side, block.layout.transposed), index, 0.0)
            if side == "out" and module.bias is not None:
                module.bias[index] = 0.0


def _complement(block: StructuredBlock, features: dict[str, tuple[str, torch.Tensor]]) -> dict:
    """The features not listed, per role."""
    found = {}
    for role, (side, index) in features.items():
        size = block.modules[role].weight.shape[weight_dim(side, block.layout.transposed)]
        dropped = torch.ones(size, dtype=torch.bool)
        dropped[index] = False
        found[role] = (side, dropped.nonzero().flatten())
    return found


def bake(model: nn.Module, masks: dict[str, list[torch.Tensor]]) -> nn.Module:
    """Zero, in place, every weight and bias a structured mask removes: the masked model as plain
    weights (same shapes, so save_pretrained works), equal in output to the hooked one."""
    for block, kept in zip(structured_blocks(model), _per_block(masks), strict=True):
        _zero(block, _complement(block, kept_features(block, kept)))
    return model


def _per_block(masks: dict[str, list[torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
    """kind -> mask, block by block, on the CPU (the index arithmetic runs there)."""
    return [dict(zip(KINDS, [m.cpu() for m in kinds], strict=True))
            for kinds in zip(*(masks[k] for k in KINDS), strict=True)]


def compress(model: nn.Module, masks: dict[str, list[torch.Tensor]]) -> nn.Module:
    """A copy of `model` with the features `masks` (kind -> bool vector per block) remove sliced
    away; its outputs equal the masked model's."""
    model = copy.deepcopy(model)
    for block, kept in zip(structured_blocks(model), _per_block(masks), strict=True):
        placeholders = {k: torch.zeros(len(v), dtype=torch.bool) for k, v in kept.items()}
        for kind in KINDS:
            if not kept[kind].any():
                kept[kind] = placeholders[kind] = torch.arange(len(kept[kind])) == 0
        _zero(block, kept_features(block, placeholders))
        for role, (side, index) in kept_features(block, kept).items():
            _slice(block.modules[role], side, index, block.layout.transposed)
        attention = block.attention
        qk, vo = int(kept["qk"].sum()) * (2 if block.layout.rotary else 1), int(kept["vo"].sum())
        attention.prunescope_shape = (block.heads, block.kv_heads, qk, vo)
        setattr(attention, next(a for a in HEAD_DIM_ATTRIBUTES if hasattr(attention, a)), 1)
        if block.layout.fused_qkv:
            attention.split_size = [qk * block.heads, qk * block.heads, vo * block.heads]
        if block.layout.rotary:
            rotary = block.qk_dims(kept["qk"].nonzero().flatten()).to(next(attention.parameters()).device)
            attention.register_buffer("prunescope_rotary", rotary, persistent=False)
            attention.register_forward_pre_hook(_defer_rotation, with_kwargs=True)
    model.set_attn_implementation(IMPLEMENTATION)
    return model


def save_compressed(model: nn.Module, masks: dict[str, list[torch.Tensor]], directory: str | Path) -> Path:
    """Write the compressed model: model.safetensors and prunescope.json (the original HF config,
    its class and the kept entries), which load_compressed reads back; no pickle."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(compress(model, masks), str(directory / "model.safetensors"))
    spec = {"class": type(model).__name__, "config": model.config.to_dict(),
            "kept": {k: [m.nonzero().flatten().tolist() for m in masks[k]] for k in KINDS},
            "sizes": {k: [len(m) for m in masks[k]] for k in KINDS}}
    (directory / SPEC_FILE).write_text(json.dumps(spec))
    return directory


def load_compressed(directory: str | Path) -> nn.Module:
    """A model written by save_compressed: built from its config, sliced, then its weights loaded."""
    spec = json.loads((Path(directory) / SPEC_FILE).read_text())
    model_class = getattr(transformers, spec["class"], None)
    if not (isinstance(model_class, type) and issubclass(model_class, transformers.PreTrainedModel)):
        raise ValueError(f"{SPEC_FILE}: class {spec['class']!r} is not a transformers model class")
    config_class = model_class.config_class
    model = model_class(config_class.from_dict(spec["config"]))
    masks = {}
    for kind in KINDS:
        masks[kind] = []
        for size, kept in zip(spec["sizes"][kind], spec["kept"][kind], strict=True):
            mask = torch.zeros(size, dtype=torch.bool)
            mask[kept] = True
            masks[kind].append(mask)
    compressed = compress(model, masks)
    load_weights(compressed, str(Path(directory) / "model.safetensors"))
    return compressed.eval()
