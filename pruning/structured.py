"""Structured mask groups (SPP): per block a QK, a VO and an FFN mask, attached by hooks.

Built on the block table of architectures.py, for every block with separate or fused q/k/v:
    QK, length d_h, shared by all heads: multiplies query and key output j of every head
        (after the bias), so a zero removes inner dimension j of every QK product.
    VO, length d_h, shared by all heads: multiplies value output j; a zero removes that value
        row and the matching output-projection column of every head.
    FFN, length d_ff: multiplies the input of the FFN output layer (after the nonlinearity and,
        for gated FFNs, after the gate product); a zero removes an input row, the gate row and
        an output column.
Grouped K/V heads (LLaMA): QK entry j multiplies dimension j of all H query heads and all H_kv
key heads alike, VO entry j the value dimension j of the H_kv value heads and the output columns
of the H query heads that read them. Rotary models: RoPE mixes dims j and j + d_h/2, so a QK
entry is that pair (d_h/2 entries); zeroing both before the rotation removes both from q·k.

Parameters one entry controls (biases included; "row" = in + bias, "column" = out):
    QK: dims·(H + H_kv)·row(q)     VO: H_kv·row(v) + H·column(o)
    FFN: row(in) + row(gate) + column(out)
which for BERT gives 2·H·(d_model + 1), H·(2·d_model + 1) and 2·d_model + 1 (docs/ALGORITHMS.md).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analysis.solution_path import KINDS, SolutionPath

from .architectures import LAYOUTS, BlockLayout, block_paths
from .distributed import local_rows, scaled, sum_

HEAD_DIM_ATTRIBUTES = ("head_dim", "attention_head_size")
STRUCTURED_TYPES = tuple(sorted(
    t for t, layout in LAYOUTS.items() if "ffn_in" in layout.roles and {"q", "qkv"} & set(layout.roles)
))
"""Model types whose blocks have attention and an FFN: every transformer in the block table."""


@dataclass(frozen=True)
class StructuredBlock:
    """One transformer block's modules and shapes, as structured pruning sees them."""

    name: str
    layout: BlockLayout
    attention: nn.Module
    modules: dict[str, nn.Module]
    heads: int
    kv_heads: int
    head_dim: int

    @property
    def sizes(self) -> dict[str, int]:
        """Entries per mask: QK (rotary pairs for RoPE models), VO, FFN."""
        qk = self.head_dim // 2 if self.layout.rotary else self.head_dim
        return {"qk": qk, "vo": self.head_dim, "ffn": features(self.modules["ffn_in"], self.layout)[1]}

    def entry_params(self, kind: str) -> int:
        """Parameters one entry of `kind` controls (see the module docstring)."""
        layout, m = self.layout, self.modules
        query = m.get("q", m.get("qkv"))
        if kind == "qk":
            dims = 2 if layout.rotary else 1
            return dims * (self.heads + self.kv_heads) * row_params(query, layout)
        if kind == "vo":
            return self.kv_heads * row_params(m.get("v", query), layout) + self.heads * features(m["o"], layout)[1]
        gate = row_params(m["ffn_gate"], layout) if "ffn_gate" in m else 0
        return row_params(m["ffn_in"], layout) + gate + features(m["ffn_out"], layout)[1]

    def qk_dims(self, entries: torch.Tensor) -> torch.Tensor:
        """Per-head dimensions of the QK entries `entries` (a rotary pair is two dims)."""
        return torch.cat([entries, entries + self.head_dim // 2]) if self.layout.rotary else entries


Features = list[tuple[str, str, str, torch.Tensor, torch.Tensor]]
"""(role, side, kind, feature indices, the entry each belongs to): side "out" = output features
(weight rows and bias), "in" = input features (weight columns)."""


def controlled_features(block: StructuredBlock, kept: dict[str, torch.Tensor]) -> Features:
    """The features of a block's modules that the kept entries `kept` (kind -> bool) control,
    in head-major layout: QK dim j is feature h·d_h + j of every query and key head."""
    qk_entries = kept["qk"].nonzero().flatten()
    qk_dims = block.qk_dims(qk_entries)
    qk_owner = torch.cat([qk_entries, qk_entries]) if block.layout.rotary else qk_entries
    vo = kept["vo"].nonzero().flatten()
    ffn = kept["ffn"].nonzero().flatten()

    def every_head(dims: torch.Tensor, owner: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.arange(heads)[:, None] * block.head_dim + dims[None, :]).flatten(), owner.repeat(heads)

    q, k = every_head(qk_dims, qk_owner, block.heads), every_head(qk_dims, qk_owner, block.kv_heads)
    v, o = every_head(vo, vo, block.kv_heads), every_head(vo, vo, block.heads)
    found = [("o", "in", "vo", *o), ("ffn_in", "out", "ffn", ffn, ffn), ("ffn_out", "in", "ffn", ffn, ffn)]
    if block.layout.fused_qkv:
        width = block.heads * block.head_dim
        found += [("qkv", "out", "qk", *q), ("qkv", "out", "qk", k[0] + width, k[1]),
                  ("qkv", "out", "vo", v[0] + 2 * width, v[1])]
    else:
        found += [("q", "out", "qk", *q), ("k", "out", "qk", *k), ("v", "out", "vo", *v)]
    if "ffn_gate" in block.modules:
        found.append(("ffn_gate", "out", "ffn", ffn, ffn))
    return found


def weight_dim(side: str, transposed: bool) -> int:
    """The weight dimension that indexes `side`'s features (GPT-2's Conv1D stores W transposed)."""
    return int((side == "out") == transposed)


def features(module: nn.Module, layout: BlockLayout) -> tuple[int, int]:
    """(in, out) features of a linear module (GPT-2's Conv1D stores its weight transposed)."""
    rows, cols = module.weight.shape
    return (rows, cols) if layout.transposed else (cols, rows)


def row_params(module: nn.Module, layout: BlockLayout) -> int:
    """Parameters behind one output feature: its input weights and its bias."""
    return features(module, layout)[0] + int(module.bias is not None)


def structured_blocks(model: nn.Module) -> list[StructuredBlock]:
    """Every block of `model` with its attention and FFN modules; ValueError if unsupported."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in STRUCTURED_TYPES:
        raise ValueError(f"model type {model_type!r} is not supported by structured pruning; "
                         f"supported: {', '.join(STRUCTURED_TYPES)}")
    layout = LAYOUTS[model_type]
    blocks = []
    for path in block_paths(model):
        modules = {role: model.get_submodule(f"{path}.{sub}") for role, sub in layout.roles.items()}
        query_role = "qkv" if layout.fused_qkv else "q"
        attention = model.get_submodule(f"{path}.{layout.roles[query_role].rpartition('.')[0]}")
        head_dim = next(getattr(attention, a) for a in HEAD_DIM_ATTRIBUTES if hasattr(attention, a))
        q_out = features(modules[query_role], layout)[1] // (3 if layout.fused_qkv else 1)
        k_out = q_out if layout.fused_qkv else features(modules["k"], layout)[1]
        blocks.append(StructuredBlock(path, layout, attention, modules, q_out // head_dim,
                                      k_out // head_dim, head_dim))
    return blocks


def ones(blocks: list[StructuredBlock]) -> dict[str, list[torch.Tensor]]:
    """All-ones masks: kind -> one float vector per block."""
    return {kind: [torch.ones(b.sizes[kind]) for b in blocks] for kind in KINDS}


def _expand(block: StructuredBlock, qk: torch.Tensor, vo: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-feature multipliers of the query, key and value outputs (head-major layout)."""
    per_head = torch.cat([qk, qk]) if block.layout.rotary else qk
    return per_head.repeat(block.heads), per_head.repeat(block.kv_heads), vo.repeat(block.kv_heads)


@contextmanager
def masked(model: nn.Module, masks: dict[str, list[torch.Tensor]],
           blocks: list[StructuredBlock] | None = None) -> Iterator[None]:
    """Multiply the QK, VO and FFN features of every block by `masks` while inside the block.

    The hooks read the mask tensors at each call, so masks that are trained or edited in
    place take effect at once; gradients reach them through the multiplication.
    """
    blocks = blocks if blocks is not None else structured_blocks(model)
    handles = []
    try:
        for i, block in enumerate(blocks):
            def multipliers(i=i, block=block):
                return _expand(block, masks["qk"][i], masks["vo"][i])

            m = block.modules
            if block.layout.fused_qkv:
                targets = [(m["qkv"], lambda mult=multipliers: torch.cat(mult()))]
            else:
                targets = [(m[role], lambda mult=multipliers, p=p: mult()[p]) for p, role in enumerate("qkv")]
            for module, factor in targets:
                handles.append(module.register_forward_hook(
                    lambda _module, _args, out, factor=factor: out * factor().to(out)))
            handles.append(m["ffn_out"].register_forward_pre_hook(
                lambda _module, args, i=i: (args[0] * masks["ffn"][i].to(args[0]), *args[1:])))
        yield
    finally:
        for handle in handles:
            handle.remove()


class Entries:
    """The flat entry layout: block by block, QK then VO then FFN, each in index order."""

    def __init__(self, blocks: list[StructuredBlock]):
        self.sizes = [(b, kind, block.sizes[kind]) for b, block in enumerate(blocks) for kind in KINDS]
        self.size = sum(n for *_, n in self.sizes)
        codes = {kind: c for c, kind in enumerate(KINDS)}
        self.arrays = {
            "block": np.concatenate([np.full(n, b) for b, _, n in self.sizes]),
            "kind": np.concatenate([np.full(n, codes[kind]) for _, kind, n in self.sizes]),
            "index": np.concatenate([np.arange(n) for *_, n in self.sizes]),
            "weight": np.concatenate([np.full(n, blocks[b].entry_params(kind)) for b, kind, n in self.sizes]),
        }

    def split(self, flat: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """kind -> one slice of `flat` per block (views: gradients reach `flat`)."""
        out = {kind: [] for kind in KINDS}
        for (_, kind, _), part in zip(self.sizes, flat.split([n for *_, n in self.sizes]), strict=True):
            out[kind].append(part)
        return out

    def join(self, per_kind: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """The inverse of split for one dict kind -> vector per block: the flat vector."""
        return torch.cat([per_kind[b][kind] for b, kind, _ in self.sizes])


def mask_gradient(model: nn.Module, blocks: list[StructuredBlock], entries: Entries,
                  stream: Iterator[dict]) -> Callable[[torch.Tensor], torch.Tensor]:
    """M -> ∇_M L on the next batch of `stream` (weight gradients only if weights require them)."""
    def gradient(m: torch.Tensor) -> torch.Tensor:
        leaf = m.detach().requires_grad_(True)
        rows, share = local_rows(next(stream))
        with masked(model, entries.split(leaf), blocks):
            loss = scaled(model(**rows).loss, share)
        grad = torch.autograd.grad(loss, leaf)[0]
        sum_([grad])  # torchrun: the global batch's gradient
        return grad

    return gradient


def read_off(path: SolutionPath, sparsity: float, budget: str = "global",
             device: torch.device | str = "cpu") -> dict[str, list[torch.Tensor]]:
    """The sub-network of `path` at `sparsity`, as the bool masks masked() and compress() take,
    on `device` (the model's: masked() then copies nothing per forward)."""
    keep = path.masks_at(sparsity, budget)
    return {kind: [torch.from_numpy(v).to(device) for v in vectors]
            for kind, vectors in path.block_masks(keep).items()}
