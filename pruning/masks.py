"""Scores -> masks -> a masked model, as three separate steps (as torch.nn.utils.prune does).

masks_from_scores keeps, in each allocation group G, exactly k_G = round((1 - s)·|G|) weights:
those with the largest scores, ties at the threshold going to the lowest flat index (the
order of the dict, then row-major), so a mask is a deterministic function of the scores.
Allocations: "global" (one group), "layer" (one group per block; the pooler is its own),
"module" (one group per weight matrix: uniform sparsity).

apply_masks zeroes the pruned weights in place and masks their gradients after accumulation,
so a pruned weight is exactly 0 in every forward pass and never receives a gradient; the
training loop also zeroes the optimizer state there, so AdamW (with weight decay) leaves it 0.
"""

from collections import defaultdict

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

ALLOCATIONS = ("global", "layer", "module")
_ATTRIBUTE = "_prunescope_masks"


def layer_key(name: str) -> str:
    """The block a parameter belongs to: its first integer path component, else its name."""
    return next((part for part in name.split(".") if part.isdigit()), name)


def top_k_mask(scores: torch.Tensor, k: int, refill=None) -> torch.Tensor:
    """Bool mask of the k largest entries of a 1-D float32 tensor; ties at the threshold go to
    the lowest index. The threshold is found by numpy's in-place introselect, so no copy of the
    scores is made; `refill(scores)` restores them afterwards (without it a copy is taken)."""
    n = scores.numel()
    if k >= n:
        return torch.ones(n, dtype=torch.bool)
    if k <= 0:
        return torch.zeros(n, dtype=torch.bool)
    work = scores if refill is not None else scores.clone()
    values = work.numpy()
    values.partition(n - k)
    threshold = float(values[n - k])
    if refill is not None:
        refill(scores)
    mask = scores > threshold
    missing = k - int(mask.sum())
    ties = (scores == threshold).nonzero().flatten()[:missing]
    mask[ties] = True
    return mask


def masks_from_scores(
    scores: dict[str, torch.Tensor], sparsity: float, allocation: str = "global",
    within: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """name -> bool mask keeping the top (1 - sparsity) of each allocation group (exact counts).

    `within`: masks already in force; a weight they prune stays pruned whatever its score
    (no resurrection). Peak extra memory: one float32 copy of the largest group's scores.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity: {sparsity} is not in [0, 1]")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation: {allocation!r} is not one of {', '.join(ALLOCATIONS)}")
    for name, score in scores.items():
        if torch.isnan(score).any():
            raise ValueError(f"scores[{name!r}] contains NaN")
    groups: dict[str, list[str]] = defaultdict(list)
    for name in scores:
        key = {"global": "all", "layer": layer_key(name), "module": name}[allocation]
        groups[key].append(name)
    masks = {}
    for names in groups.values():
        sizes = [scores[n].numel() for n in names]

        def fill(flat: torch.Tensor, names=names, sizes=sizes) -> None:
            for name, part in zip(names, flat.split(sizes), strict=True):
                part.copy_(scores[name].detach().flatten())
                if within is not None:
                    part.masked_fill_(~within[name].flatten().cpu(), float("-inf"))

        flat = torch.empty(sum(sizes), dtype=torch.float32)
        fill(flat)
        kept = top_k_mask(flat, round((1.0 - sparsity) * flat.numel()), refill=fill)
        for name, part in zip(names, kept.split(sizes), strict=True):
            masks[name] = part.view(scores[name].shape)
    return {name: masks[name] for name in scores}


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned weights of `model` in place and keep their gradients at zero."""
    remove_masks(model)
    params = dict(model.named_parameters())
    handles = []
    for name, mask in masks.items():
        if name not in params:
            raise KeyError(f"masks: {name!r} is not a parameter of the model")
        param = params[name]
        if mask.shape != param.shape or mask.dtype != torch.bool:
            raise ValueError(f"masks[{name!r}] must be bool of shape {tuple(param.shape)}")
        mask = mask.to(param.device)
        with torch.no_grad():
            param.mul_(mask)
        handles.append(param.register_post_accumulate_grad_hook(_gradient_mask(mask)))
    setattr(model, _ATTRIBUTE, ({name: m.to(params[name].device) for name, m in masks.items()},
                                handles))


def _gradient_mask(mask: torch.Tensor):
    def hook(param: torch.Tensor) -> None:
        param.grad.mul_(mask)

    return hook


def get_masks(model: nn.Module) -> dict[str, torch.Tensor] | None:
    """The masks applied to `model`, or None."""
    state = getattr(model, _ATTRIBUTE, None)
    return None if state is None else state[0]


def remove_masks(model: nn.Module) -> dict[str, torch.Tensor] | None:
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


def density_report(model: nn.Module, names: list[str]) -> dict[str, tuple[int, int]]:
    """name -> (non-zero count, total count) of the given parameters as they are now."""
    params = dict(model.named_parameters())
    return {n: (int(params[n].count_nonzero()), params[n].numel()) for n in names}
