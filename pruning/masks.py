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

import itertools
import math
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
_VERSIONS = itertools.count(1)


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


SAMPLE = 1 << 16
"""Entries of the strided sample that brackets the threshold."""
BAND_LIMIT = 1 << 20
"""The most entries copied out of the bracket; beyond it (heavy ties) bisection takes over."""


def _select(condition: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    return condition if allowed is None else condition & allowed


def _count(flats, allow, value: float, strict: bool = False) -> int:
    """How many allowed entries are > `value` (strict) or >= `value`."""
    return sum(int(torch.count_nonzero(_select(f > value if strict else f >= value, a)))
               for f, a in zip(flats, allow, strict=True))


def _sample_bounds(flats, allow, rank_share: float) -> tuple[float, float] | None:
    """Values bracketing the allowed entry at `rank_share` of the way down from the largest: the
    order statistics of a strided sample of n entries at ranks rank_share·n ± (4 standard
    deviations + 16), as (lower, upper), ±inf past the ends; None for a sample under 64."""
    stride = max(1, sum(f.numel() for f in flats) // SAMPLE)
    sample = torch.cat([f[::stride] if a is None else f[::stride][a[::stride]]
                        for f, a in zip(flats, allow, strict=True)])
    n = sample.numel()
    if n < 64:
        return None
    ordered = sample.sort(descending=True).values
    margin = 4 * math.sqrt(n * rank_share * (1 - rank_share)) + 16
    top, bottom = int(rank_share * n - margin), int(rank_share * n + margin)
    return (float(ordered[bottom]) if bottom < n else -math.inf), (float(ordered[top]) if top >= 0 else math.inf)


def _bracketed_threshold(flats, allow, k: int, candidates: int) -> float | None:
    """The k-th largest allowed value from a bracket [lo, hi] read off a strided sample
    (_sample_bounds): one pass checks count(> hi) < k <= count(>= lo), one pass copies the band
    of values inside, kthvalue finds it there. None if the bracket misses or the band is too
    large."""
    bounds = _sample_bounds(flats, allow, k / candidates)
    if bounds is None:
        return None
    lo, hi = bounds
    above = _count(flats, allow, hi, strict=True)
    if not above < k <= _count(flats, allow, lo):
        return None
    band = [f[_select((f >= lo) & (f <= hi), a)] for f, a in zip(flats, allow, strict=True)]
    if sum(b.numel() for b in band) > BAND_LIMIT:
        return None
    band = torch.cat(band)
    return float(band.kthvalue(band.numel() - (k - above) + 1).values)


def _bisected_threshold(flats, allow, k: int) -> float:
    """The k-th largest allowed value by bisection over the ordered bits of float32, one counting
    pass per step (at most 32)."""
    values = [f if a is None else f[a] for f, a in zip(flats, allow, strict=True)]
    low = _ordered(min(float(v.min()) for v in values if v.numel()))
    high = _ordered(max(float(v.max()) for v in values if v.numel()))
    del values
    while low < high:  # largest key whose value still has >= k entries at or above it
        middle = (low + high + 1) // 2
        if _count(flats, allow, _unordered(middle)) >= k:
            low = middle
        else:
            high = middle - 1
    return _unordered(low)


def top_k_masks(parts: list[torch.Tensor], k: int, allowed: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Bool masks of the k largest entries across `parts` (in order, each row-major) among those
    `allowed` permits; ties at the threshold go to the earliest entries.

    The threshold (the k-th largest value) comes from a bracket read off a strided sample, checked
    by counting and finished on the few values inside it (_bracketed_threshold: four passes over the
    scores and a copy of about 10⁻³ of them), or by bisection when ties crowd the bracket (which
    copies the allowed scores once, for their extremes). Scores that are not float32 are copied
    to float32.
    """
    flats = [p.detach().reshape(-1).float() for p in parts]
    allow = [a.reshape(-1) for a in allowed] if allowed is not None else [None] * len(flats)
    candidates = sum(f.numel() if a is None else int(a.sum()) for f, a in zip(flats, allow, strict=True))
    if k >= candidates or k <= 0:
        return [torch.full_like(f, k > 0, dtype=torch.bool) if a is None else a.clone() & (k > 0)
                for f, a in zip(flats, allow, strict=True)]
    threshold = _bracketed_threshold(flats, allow, k, candidates)
    if threshold is None:
        threshold = _bisected_threshold(flats, allow, k)
    masks = [_select(f > threshold, a) for f, a in zip(flats, allow, strict=True)]
    missing = k - sum(int(m.sum()) for m in masks)
    for f, a, mask in zip(flats, allow, masks, strict=True):
        if missing <= 0:
            break
        ties = _select(f == threshold, a).nonzero().flatten()[:missing]
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
    layout (default: (out, in) rows). For global, layer and module no copy of all the scores is made
    (see top_k_masks).
    """
    _check(scores, sparsity, allocation, weights)
    if allocation == "row" or n_m(allocation):
        return {name: _local_mask(score, sparsity, allocation, bool(weights and weights[name].transposed),
                                  None if within is None else within[name].to(score.device))
                for name, score in scores.items()}
    masks = {}
    for names in _groups(scores, allocation, weights):
        k = round((1.0 - sparsity) * sum(scores[n].numel() for n in names))
        allowed = [within[n].to(scores[n].device) for n in names] if within is not None else None
        kept = top_k_masks([scores[n] for n in names], k, allowed)
        for name, mask in zip(names, kept, strict=True):
            masks[name] = mask.view(scores[name].shape)
    return {name: masks[name] for name in scores}


def _check(scores: Scores, sparsity: float, allocation: str, weights) -> None:
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity: {sparsity} is not in [0, 1]")
    check_allocation(allocation, sparsity)
    if allocation == "layer" and weights is None:
        raise ValueError("allocation 'layer' needs the weights' blocks: pass weights=weight_table(model)")
    if not math.isfinite(sum(float(s.detach().float().sum()) for s in scores.values())):
        for name, score in scores.items():  # the fast check (one sum) failed: name the culprit, if it is NaN
            if torch.isnan(score).any():
                raise ValueError(f"scores[{name!r}] contains NaN")


def _groups(scores: Scores, allocation: str, weights) -> list[list[str]]:
    """The names of each allocation group of global, layer or module, in score order."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for name in scores:
        if allocation == "layer":
            layer = weights[name].layer
            key = ("block", layer) if layer is not None else ("outside", name)
        else:
            key = ("all",) if allocation == "global" else (name,)
        groups[key].append(name)
    return list(groups.values())


def prune_lowest(scores: Scores, kept: Masks, sparsity: float, allocation: str = "global",
                 weights: dict[str, PrunableWeight] | None = None) -> tuple[Masks, dict[str, torch.Tensor]]:
    """masks_from_scores(scores, sparsity, allocation, within=kept) for global, layer and module,
    found by what changes: (the new masks, the flat indices they prune that `kept` kept).

    Per group, the r = |kept| − k lowest-scoring kept entries go (ties: the latest first, so the
    earliest stay, as in masks_from_scores). A bound read off a strided sample of the kept
    scores (the r/|kept| quantile plus 4 standard deviations) selects the candidates at or below
    it in one pass; the r-th smallest is found among those few. One pass over the scores where
    a full top-k needs several: a gradual method can re-mask every step. Row and N:M
    allocations, and a bound that misses, fall back to masks_from_scores."""
    if allocation not in ("global", "layer", "module"):
        new = masks_from_scores(scores, sparsity, allocation, within=kept, weights=weights)
        return new, pruned_since(kept, new)
    _check(scores, sparsity, allocation, weights)
    removed = {}
    for names in _groups(scores, allocation, weights):
        flats = [scores[n].detach().reshape(-1).float() for n in names]
        allow = [kept[n].to(scores[n].device).reshape(-1) for n in names]
        k = round((1.0 - sparsity) * sum(f.numel() for f in flats))
        found = _lowest(flats, allow, sum(int(torch.count_nonzero(a)) for a in allow) - k)
        if found is None:
            new = masks_from_scores({n: scores[n] for n in names}, sparsity, "global" if len(names) > 1 else "module",
                                    within={n: kept[n] for n in names})
            found = [pruned_since({n: kept[n]}, {n: new[n]})[n] for n in names]
        removed.update(zip(names, found, strict=True))
    new = {}
    for name, mask in kept.items():
        new[name] = mask.to(scores[name].device, copy=True)
        new[name].view(-1)[removed[name]] = False
    return new, removed


def _lowest(flats, allow, r: int) -> list[torch.Tensor] | None:
    """Flat indices, per part, of the r lowest allowed values (an `allow` of None: all); ties:
    the latest go first. None when the sampled bound holds fewer than r + 1 candidates or too many."""
    if r <= 0:
        return [torch.zeros(0, dtype=torch.long, device=f.device) for f in flats]
    allowed = sum(f.numel() if a is None else int(torch.count_nonzero(a)) for f, a in zip(flats, allow, strict=True))
    bounds = _sample_bounds(flats, allow, 1 - r / allowed) if r < allowed else None
    if bounds is None:
        return None
    bound = bounds[1]  # at or above the r-th lowest, 4 standard deviations up
    index = [_select(f <= bound, a).nonzero().squeeze(1) for f, a in zip(flats, allow, strict=True)]
    values = [f[i] for f, i in zip(flats, index, strict=True)]
    candidates = sum(v.numel() for v in values)
    if candidates <= r or candidates > BAND_LIMIT + r:
        return None
    threshold = float(torch.cat(values).kthvalue(r + 1).values)  # the lowest value that stays (or ties)
    below = [i[v < threshold] for i, v in zip(index, values, strict=True)]
    ties = r - sum(b.numel() for b in below)  # the latest `ties` entries equal to the threshold go too
    out = []
    for i, v, b in reversed(list(zip(index, values, below, strict=True))):
        tied = i[v == threshold]
        take = tied[tied.numel() - min(ties, tied.numel()):] if ties > 0 else tied[:0]
        ties -= take.numel()
        out.append(torch.cat([b, take]).sort().values if take.numel() else b)  # b is in order already
    return out[::-1]


class GrowingPool:
    """prune_lowest, global allocation, for scores that never decrease (Scorer.growing), without
    a pass over every score each step. The pool holds the kept entries that scored at most B when
    it was filled; every other kept entry scored above B then and has only grown since. So while
    more than r pool entries still score at most B, the r lowest kept entries are all in the pool
    (ties: the latest go first, as in masks_from_scores), and a step reads the pool only. When it
    runs short it is refilled by one pass, B read off a strided sample at the rank of
    max(`ahead`·r, `least`) kept entries. Within the pool the r lowest are found as prune_lowest
    finds them (_lowest); where that misses, prune_lowest itself runs and the pool is refilled.
    A pool that would hold more than `most` of the kept entries (a step that prunes a large share,
    early in a short window) is not made: prune_lowest runs, and the indices are not held."""

    def __init__(self, ahead: int = 8, least: int = 4096, most: float = 0.25):
        self.ahead, self.least, self.most = ahead, least, most
        self.index: list[torch.Tensor] | None = None
        self.bound, self.alive = -math.inf, 0

    def prune(self, scores: Scores, kept: Masks, sparsity: float) -> dict[str, torch.Tensor]:
        """Prune the lowest kept entries down to `sparsity`, editing `kept` in place; returns
        the flat indices removed, per name."""
        _check(scores, sparsity, "global", None)
        names = list(kept)
        if self.index is None:
            self.alive = sum(int(torch.count_nonzero(kept[n])) for n in names)
        r = self.alive - round((1.0 - sparsity) * sum(kept[n].numel() for n in names))
        found = self._lowest(scores, names, r) if self.index is not None else None
        if found is None and self._fill(scores, kept, names, r):
            found = self._lowest(scores, names, r)
        if found is None:  # no pool, or heavy ties at its bound: the general search, a fresh pool next step
            _, removed = prune_lowest(scores, kept, sparsity)
            self.index = None
        else:
            removed = dict(zip(names, found, strict=True))
            self.alive -= max(r, 0)
        for name, index in removed.items():
            kept[name].view(-1)[index.to(kept[name].device)] = False
        return removed

    def _fill(self, scores: Scores, kept: Masks, names: list[str], r: int) -> bool:
        """Refill the pool; False (and no pool) where it would hold more than `most` of the kept."""
        flats = [scores[n].detach().reshape(-1).float() for n in names]
        allow = [kept[n].to(f.device).reshape(-1) for n, f in zip(names, flats, strict=True)]
        self.alive = sum(int(torch.count_nonzero(a)) for a in allow)
        share = max(self.ahead * max(r, 1), self.least) / max(self.alive, 1)
        if share > self.most:
            self.index = None
            return False
        bounds = _sample_bounds(flats, allow, 1 - share)
        self.bound = bounds[1] if bounds is not None else math.inf
        self.index = [_select(f <= self.bound, a).nonzero().squeeze(1) for f, a in zip(flats, allow, strict=True)]
        return True

    def _lowest(self, scores: Scores, names: list[str], r: int) -> list[torch.Tensor] | None:
        """The r lowest pool entries, per name (and the pool without them); None if the pool is
        short or its sampled bracket misses."""
        if r <= 0:
            return [i[:0] for i in self.index]
        values = torch.cat([scores[n].detach().reshape(-1).float()[i] for n, i in zip(names, self.index, strict=True)])
        if int(torch.count_nonzero(values <= self.bound)) <= r:
            return None
        found = _lowest([values], [None], r)
        if found is None:
            return None
        positions = found[0]  # in order, into the pool's concatenation
        ends = torch.tensor([len(i) for i in self.index], device=positions.device).cumsum(0)
        cuts = [0, *torch.searchsorted(positions, ends).tolist()]
        counts = [b - a for a, b in itertools.pairwise(cuts)]
        pool = torch.cat(self.index)
        stays = torch.ones(len(pool), dtype=torch.bool, device=pool.device)
        stays[positions] = False
        self.index = list(pool[stays].split([len(i) - c for i, c in zip(self.index, counts, strict=True)]))
        return list(pool[positions].split(counts))


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
        mask = moved[name] = mask.to(param.device, copy=True)  # the model's own: prune_more edits it
        with torch.no_grad():
            param.mul_(mask)
        handles.append(param.register_post_accumulate_grad_hook(_gradient_mask(mask)))
    setattr(model, _ATTRIBUTE, (moved, handles, [next(_VERSIONS)]))


def _gradient_mask(mask: torch.Tensor):
    def hook(param: torch.Tensor) -> None:
        param.grad.mul_(mask)

    return hook


def get_masks(model: nn.Module) -> Masks | None:
    """The masks applied to `model`, or None."""
    state = getattr(model, _ATTRIBUTE, None)
    return None if state is None else state[0]


def masks_version(model: nn.Module) -> int | None:
    """A number that changes whenever the masks in force change (apply_masks, prune_more)."""
    state = getattr(model, _ATTRIBUTE, None)
    return None if state is None else state[2][0]


def pruned_since(old: Masks, new: Masks) -> dict[str, torch.Tensor]:
    """Flat indices of the entries `new` prunes that `old` kept (new ⊆ old: no resurrection)."""
    return {name: (old[name] & ~new[name]).view(-1).nonzero().squeeze(1) for name in new}


@torch.no_grad()
def prune_more(model: nn.Module, removed: dict[str, torch.Tensor],
               optimizer: torch.optim.Optimizer | None = None) -> None:
    """Prune the flat indices `removed` on top of the masks in force, in place: the weights, the
    masks the gradient hooks read and the optimizer's per-weight state there are zeroed. The same
    result as apply_masks then mask_optimizer_state with the smaller masks, at a cost proportional
    to what is removed rather than to the model."""
    masks, _, version = getattr(model, _ATTRIBUTE)
    params = dict(model.named_parameters())
    for name, index in removed.items():
        if not index.numel():
            continue
        param = params[name]
        masks[name].view(-1)[index] = False  # index_put_: 30% faster here than index_fill_
        param.view(-1)[index] = 0.0
        state = optimizer.state.get(param, {}) if optimizer is not None else {}
        for value in state.values():
            if torch.is_tensor(value) and value.shape == param.shape:
                value.view(-1)[index] = 0.0
    version[0] = next(_VERSIONS)


def remove_masks(model: nn.Module) -> Masks | None:
    """Stop masking gradients; pruned weights stay 0 (baked in). Returns the removed masks."""
    state = getattr(model, _ATTRIBUTE, None)
    if state is None:
        return None
    masks, handles, _ = state
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
