"""Scores -> masks -> a masked model, as three separate steps (as torch.nn.utils.prune does).

masks_from_scores keeps, in each allocation group G, exactly k_G = round((1 - s)·|G|) weights:
those with the largest scores, ties at the threshold going to the lowest flat index (the
order of the dict, then row-major), so a mask is a deterministic function of the scores.
Allocations:
    "global"   one group of every weight
    "layer"    one group per block (PrunableWeight.layer of the architecture table; a weight
               outside the blocks, such as BERT's pooler, is its own group)
    "module"   one group per weight matrix: uniform sparsity
    "row"      one group per output row (Wanda's comparison group)
    "N:M"      in every run of M consecutive input weights of a row keep the N highest
               ("2:4", "4:8"); the sparsity must be 1 − N/M
Rows and inputs follow the weight's layout: GPT-2's Conv1D stores (in, out), so its output
rows are columns there (PrunableWeight.transposed).

apply_masks zeroes the pruned weights in place and masks their gradients after accumulation,
so a pruned weight is exactly 0 in every forward pass and never receives a gradient; the
training loop also zeroes the optimizer state there, so AdamW (with weight decay) leaves it 0.
"""

from collections import defaultdict

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from .architectures import PrunableWeight

Masks = dict[str, torch.Tensor]
"""Unstructured masks: parameter name -> bool tensor shaped like the weight (True = kept)."""
Scores = dict[str, torch.Tensor]
"""Scores: parameter name -> float tensor shaped like the weight (higher = kept)."""

N_M = ("2:4", "4:8")
ALLOCATIONS = ("global", "layer", "module", "row", *N_M)
_ATTRIBUTE = "_prunescope_masks"


def n_m(allocation: str) -> tuple[int, int] | None:
    """(N, M) of an N:M allocation, else None."""
    if allocation not in N_M:
        return None
    n, m = allocation.split(":")
    return int(n), int(m)


def check_allocation(allocation: str, sparsity: float) -> None:
    """A ValueError unless `allocation` is known and, for N:M, `sparsity` is 1 − N/M."""
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation: {allocation!r} is not one of {', '.join(ALLOCATIONS)}")
    pattern = n_m(allocation)
    if pattern and abs(sparsity - (1 - pattern[0] / pattern[1])) > 1e-9:
        raise ValueError(f"sparsity: {sparsity} is not allowed with allocation {allocation}; "
                         f"must be {1 - pattern[0] / pattern[1]}")


def _ordered(value: float) -> int:
    """float32 -> an integer with the same order (sign-magnitude bits to offset binary)."""
    bits = int(np.array(value, np.float32).view(np.uint32))
    return bits ^ 0xFFFFFFFF if bits >> 31 else bits ^ 0x80000000


def _unordered(key: int) -> float:
    bits = key ^ 0x80000000 if key >> 31 else key ^ 0xFFFFFFFF
    return float(np.array(bits, np.uint32).view(np.float32))


def top_k_masks(parts: list[torch.Tensor], k: int, allowed: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Bool masks of the k largest entries across `parts` (in order, each row-major) among those
    `allowed` permits; ties at the threshold go to the earliest entries.

    Copy-free: the threshold is the k-th largest value, found by bisection over the ordered bits
    of float32 with one counting pass per step (at most 32), so no tensor larger than one part
    is ever allocated.
    """
    flats = [p.detach().reshape(-1).float() for p in parts]
    allow = [a.reshape(-1) for a in allowed] if allowed is not None else [None] * len(flats)

    def select(f: torch.Tensor, a: torch.Tensor | None, condition: torch.Tensor) -> torch.Tensor:
        return condition if a is None else condition & a

    def count_at_least(threshold: float) -> int:
        return sum(int(select(f, a, f >= threshold).sum()) for f, a in zip(flats, allow, strict=True))

    candidates = sum(f.numel() if a is None else int(a.sum()) for f, a in zip(flats, allow, strict=True))
    if k >= candidates or k <= 0:
        return [torch.full_like(f, k > 0, dtype=torch.bool) if a is None else a.clone() & (k > 0)
                for f, a in zip(flats, allow, strict=True)]
    values = [f if a is None else f[a] for f, a in zip(flats, allow, strict=True)]
    low = _ordered(min(float(v.min()) for v in values if v.numel()))
    high = _ordered(max(float(v.max()) for v in values if v.numel()))
    del values
    while low < high:  # largest key whose value still has >= k entries at or above it
        middle = (low + high + 1) // 2
        if count_at_least(_unordered(middle)) >= k:
            low = middle
        else:
            high = middle - 1
    threshold = _unordered(low)
    masks = [select(f, a, f > threshold) for f, a in zip(flats, allow, strict=True)]
    missing = k - sum(int(m.sum()) for m in masks)
    for f, a, mask in zip(flats, allow, masks, strict=True):
        if missing <= 0:
            break
        ties = select(f, a, f == threshold).nonzero().flatten()[:missing]
        mask[ties] = True
        missing -= len(ties)
    return masks


def _rows(tensor: torch.Tensor, transposed: bool) -> torch.Tensor:
    """A weight-shaped tensor as (output rows, inputs)."""
    return tensor.t() if transposed else tensor.reshape(tensor.shape[0], -1)


def top_per_row(values: torch.Tensor, k: int, allowed: torch.Tensor | None) -> torch.Tensor:
    """Bool mask of the k highest entries of each row (last dim) among the allowed; ties go to
    the lower index (a stable descending sort)."""
    if allowed is not None:
        values = values.masked_fill(~allowed, -torch.inf)
    order = torch.sort(values, dim=-1, descending=True, stable=True).indices[..., :k]
    kept = torch.zeros_like(values, dtype=torch.bool).scatter_(-1, order, True)
    return kept if allowed is None else kept & allowed


def _local_mask(score: torch.Tensor, sparsity: float, allocation: str, transposed: bool,
                allowed: torch.Tensor | None) -> torch.Tensor:
    """The mask of one weight under a row or N:M allocation, shaped like the weight."""
    rows = _rows(score.detach().float(), transposed)
    allow = None if allowed is None else _rows(allowed, transposed)
    pattern = n_m(allocation)
    if pattern is None:
        kept = top_per_row(rows, round((1.0 - sparsity) * rows.shape[1]), allow)
    else:
        n, m = pattern
        if rows.shape[1] % m:
            raise ValueError(f"allocation {allocation}: a weight with {rows.shape[1]} inputs per row "
                             f"cannot be cut into groups of {m}")
        groups = rows.reshape(rows.shape[0], -1, m)
        kept = top_per_row(groups, n, None if allow is None else allow.reshape(groups.shape)).reshape(rows.shape)
    return (kept.t() if transposed else kept).reshape(score.shape).contiguous()


def masks_from_scores(
    scores: Scores, sparsity: float, allocation: str = "global", within: Masks | None = None,
    weights: dict[str, PrunableWeight] | None = None,
) -> Masks:
    """name -> bool mask keeping the top (1 - sparsity) of each allocation group (exact counts),
    on the device of the scores.

    `within`: masks already in force; a weight they prune stays pruned whatever its score
    (no resurrection). `weights`: the architecture table (architectures.weight_table), which
    "layer" needs for the block of each weight and which gives row and N:M allocations the
    layout (default: (out, in) rows). Copy-free for global, layer and module (see top_k_masks).
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity: {sparsity} is not in [0, 1]")
    check_allocation(allocation, sparsity)
    if allocation == "layer" and weights is None:
        raise ValueError("allocation 'layer' needs the weights' blocks: pass weights=weight_table(model)")
    for name, score in scores.items():
        if torch.isnan(score).any():
            raise ValueError(f"scores[{name!r}] contains NaN")
    if allocation == "row" or n_m(allocation):
        return {name: _local_mask(score, sparsity, allocation, bool(weights and weights[name].transposed),
                                  None if within is None else within[name].to(score.device))
                for name, score in scores.items()}
    groups: dict[tuple, list[str]] = defaultdict(list)
    for name in scores:
        if allocation == "layer":
            layer = weights[name].layer
            key = ("block", layer) if layer is not None else ("outside", name)
        else:
            key = ("all",) if allocation == "global" else (name,)
        groups[key].append(name)
    masks = {}
    for names in groups.values():
        k = round((1.0 - sparsity) * sum(scores[n].numel() for n in names))
        allowed = [within[n].to(scores[n].device) for n in names] if within is not None else None
        kept = top_k_masks([scores[n] for n in names], k, allowed)
        for name, mask in zip(names, kept, strict=True):
            masks[name] = mask.view(scores[name].shape)
    return {name: masks[name] for name in scores}


def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero the pruned weights of `model` in place and keep their gradients at zero."""
    remove_masks(model)
    params = dict(model.named_parameters())
    handles, moved = [], {}
    for name, mask in masks.items():
        if name not in params:
            raise KeyError(f"masks: {name!r} is not a parameter of the model")
        param = params[name]
        if mask.shape != param.shape or mask.dtype != torch.bool:
            raise ValueError(f"masks[{name!r}] must be bool of shape {tuple(param.shape)}")
        mask = moved[name] = mask.to(param.device)
        with torch.no_grad():
            param.mul_(mask)
        handles.append(param.register_post_accumulate_grad_hook(_gradient_mask(mask)))
    setattr(model, _ATTRIBUTE, (moved, handles))


def _gradient_mask(mask: torch.Tensor):
    def hook(param: torch.Tensor) -> None:
        param.grad.mul_(mask)

    return hook


def get_masks(model: nn.Module) -> Masks | None:
    """The masks applied to `model`, or None."""
    state = getattr(model, _ATTRIBUTE, None)
    return None if state is None else state[0]


def remove_masks(model: nn.Module) -> Masks | None:
    """Stop masking gradients; pruned weights stay 0 (baked in). Returns the removed masks."""
    state = getattr(model, _ATTRIBUTE, None)
    if state is None:
        return None
    masks, handles = state
    for handle in handles:
        handle.remove()
    delattr(model, _ATTRIBUTE)
    return masks


def mask_optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    """Zero every per-weight optimizer state (e.g. Adam's m and v) at pruned positions."""
    masks = get_masks(model)
    if not masks:
        return
    by_param = {param: masks[name] for name, param in model.named_parameters() if name in masks}
    for param, state in optimizer.state.items():
        if param in by_param:
            for value in state.values():
                if torch.is_tensor(value) and value.shape == param.shape:
                    value.mul_(by_param[param])


def to_torch_prune(model: nn.Module) -> nn.Module:
    """Re-express the applied masks in torch.nn.utils.prune's layout (weight_orig, weight_mask)."""
    masks = remove_masks(model) or {}
    for name, mask in masks.items():
        module_name, _, attribute = name.rpartition(".")
        torch_prune.custom_from_mask(model.get_submodule(module_name), attribute, mask)
    return model
