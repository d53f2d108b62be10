"""What a pruning method is, and the one way to add one: a file in pruning/methods/ that ends
with `register(Method(...))`. The file declares everything about the method:
- its equation (the module docstring) and a one-line summary;
- a hyperparameter dataclass of pruning.options fields (defaults, allowed values, help);
- its variants: each schedule it prunes on, as papers name it, with its colour on charts;
- what it needs (NEEDS), the allocations it supports, presets of its papers' settings;
- how it scores: a Scorer (higher = kept; serves every schedule), or, for methods that choose
  masks themselves and may rewrite the kept weights, a one-shot function.
The package discovers every module, so no other file names a method.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..architectures import prunable_parameters, weight_table
from ..distributed import local_rows, scaled, sum_gradients
from ..masks import ALLOCATIONS, Masks, Scores, apply_masks, check_allocation, masks_from_scores
from ..modes import evaluating, gradients_only_for
from ..options import parse
from ..registry import add

SCHEDULES = ("one-shot", "iterative", "gradual")
"""one-shot: score once, then fine-tune; iterative: prune before fine-tuning in T rounds on the
exponential schedule; gradual: prune during fine-tuning on the cubic schedule."""
PRESET_FIELDS = ("start", "duration", "start_fraction", "duration_fraction", "every")
"""What a preset may set besides hyperparameters: the gradual window in the paper's steps, or as
fractions of the fine-tuning steps (the paper's shape scaled to ours), and the re-mask interval."""
NEEDS = ("nothing", "gradients", "hessian-vector", "activations")
"""What scoring reads: the weights alone, gradients, Hessian-vector products, or the inputs of
every prunable layer (forward passes only)."""


@dataclass(frozen=True)
class NoHparams:
    """A method without hyperparameters."""


class Scorer:
    """Accumulates a score from the gradients of successive batches.

    `update(weights)` reads `.grad` of the tracked parameters; θ in the score is `weights`
    (default: the parameters' current values, the θ the gradient was taken at).
    `scores()` may be called at any time; `forget(masks)` zeroes the state of pruned weights.
    """

    growing = False
    """True if a kept weight's score never decreases between updates (a running sum of
    non-negative terms): a gradual pruner may then look for the lowest among few candidates."""

    def __init__(self, params: dict[str, nn.Parameter], hparams=None):
        self.params = params
        self.hparams = hparams

    def update(self, weights: dict[str, torch.Tensor] | None = None) -> None:
        """Accumulate this step's gradients (data-free scorers ignore them)."""

    def scores(self) -> Scores:
        raise NotImplementedError

    def forget(self, masks: Masks, removed: dict[str, torch.Tensor] | None = None) -> None:
        """No resurrection: a pruned weight's accumulated state is dropped (default: none kept).
        `removed`, if given, holds the flat indices newly pruned since the last call (the same
        result at a cost proportional to them; see zero_pruned)."""

    def accumulate(self, model: nn.Module, batches: Iterable[dict]) -> None:
        """One pass over `batches` at fixed weights: a backward and an update per batch."""
        for batch in batches:
            backward_on(model, batch)
            self.update()


class DataFreeScorer(Scorer):
    """A scorer that reads only the weights: accumulating reads no batch."""

    def accumulate(self, model: nn.Module, batches: Iterable[dict]) -> None:
        """Nothing to read."""


@dataclass(frozen=True)
class Variant:
    """A method as papers name it, with its colour on every chart: a schedule and the [prune]
    fields that select it: resurrection, an allocation (None: the run's), a preset, fixed
    hyperparameters. A run takes the label of the most specific variant its fields match."""

    label: str
    schedule: str
    color: str
    resurrect: bool = False
    allocation: str | None = None
    preset: str = ""
    hparams: dict = field(default_factory=dict)

    def matches(self, schedule: str, resurrect: bool, allocation: str, preset: str, hparams: dict) -> bool:
        """Whether a run's fields select this variant; what the variant leaves open matches anything."""
        return ((self.schedule, self.resurrect) == (schedule, resurrect) and self.preset in ("", preset)
                and self.allocation in (None, allocation) and all(hparams.get(k) == v for k, v in self.hparams.items()))

    @property
    def specificity(self) -> int:
        return (self.allocation is not None) + bool(self.preset) + len(self.hparams)


OneShot = Callable[..., tuple[Masks, Scores]]
"""one_shot(model, batches, sparsity, allocation, hparams) -> (masks, scores), masks applied."""


@dataclass(frozen=True)
class Method:
    """A registered pruning method; the first variant's schedule is its default schedule."""

    name: str
    summary: str
    variants: tuple[Variant, ...]
    needs: str
    scorer: type[Scorer] | None = None
    one_shot: OneShot | None = None
    hparams: type = NoHparams
    allocations: tuple[str, ...] = ALLOCATIONS
    presets: dict[str, dict[str, dict]] = field(default_factory=dict)
    """name -> schedule -> hyperparameters and PRESET_FIELDS of a paper's setting"""
    scores_from_start: bool = False
    """gradual only: accumulate scores from the first fine-tuning step (movement, PLATON), not t_i"""
    rewrites_weights: bool = False
    """pruning also changes the kept weights (SparseGPT's reconstruction)"""

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise ValueError(f"{self.name}: needs {self.needs!r} is not one of {', '.join(NEEDS)}")
        if (self.scorer is None) == (self.one_shot is None):
            raise ValueError(f"{self.name}: give a scorer or a one_shot function, not both or neither")
        unknown = {v.schedule for v in self.variants} - set(SCHEDULES)
        if unknown or (self.scorer is None and self.schedules != ("one-shot",)):
            raise ValueError(f"{self.name}: schedules {self.schedules} (a one_shot method has one-shot only)")

    @property
    def schedules(self) -> tuple[str, ...]:
        """The schedules of its variants, the default first."""
        return tuple(dict.fromkeys(v.schedule for v in self.variants))

    def parse_hparams(self, given: dict):
        """The hyperparameter dataclass from `given` over its defaults, every field checked."""
        return parse(self.hparams, given, "prune.hparams", owner=self.name)

    def make_scorer(self, model: nn.Module, **hparams) -> Scorer:
        return self.make_scorer_for(prunable_parameters(model), **hparams)

    def make_scorer_for(self, params: dict[str, nn.Parameter], **hparams) -> Scorer:
        """A scorer over any named parameters (the prunable ones of a model, or a test's own)."""
        if self.scorer is None:
            raise ValueError(f"{self.name} chooses its masks itself (one-shot only); it has no scorer")
        return self.scorer(params, self.parse_hparams(hparams))

    def prune_once(self, model: nn.Module, batches: Iterable[dict], sparsity: float, allocation: str = "global",
                   **hparams) -> tuple[Masks, Scores]:
        """One-shot pruning of `model` in place: (masks, the scores they were chosen by)."""
        if allocation not in self.allocations:
            raise ValueError(f"prune.allocation: {allocation!r} is not allowed for {self.name}; "
                             f"allowed: {', '.join(self.allocations)}")
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"sparsity: {sparsity} is not in [0, 1]")
        check_allocation(allocation, sparsity)
        if self.one_shot is not None:
            return self.one_shot(model, batches, sparsity, allocation, self.parse_hparams(hparams))
        scores = accumulate(self.make_scorer(model, **hparams), model, batches).scores()
        masks = masks_from_scores(scores, sparsity, allocation, weights=weight_table(model))
        apply_masks(model, masks)
        return masks, scores


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add `method` to the registry (once per name); returns it."""
    return add(REGISTRY, method, "method")


@torch.no_grad()
def zero_pruned(states: dict[str, torch.Tensor], masks: Masks, removed: dict[str, torch.Tensor] | None) -> None:
    """Zero per-weight scorer state where `masks` prune: at the flat indices `removed` when given
    (only what changed since the last mask), else by multiplying with the masks."""
    for name, tensor in states.items():
        if removed is None:
            tensor.mul_(masks[name])
        elif removed[name].numel():
            tensor.view(-1)[removed[name]] = 0.0


def backward_on(model: nn.Module, batch: dict[str, torch.Tensor]) -> float:
    """Fresh gradients of the loss on `batch` (under torchrun: summed over processes); returns the loss."""
    model.zero_grad(set_to_none=True)
    rows, share = local_rows(batch)
    loss = scaled(model(**rows).loss, share)
    loss.backward()
    return sum_gradients(model, loss).item()


def accumulate(scorer: Scorer, model: nn.Module, batches: Iterable[dict]) -> Scorer:
    """One pass of `scorer` over `batches` at fixed weights (eval mode: no dropout)."""
    with evaluating(model), gradients_only_for(model, scorer.params):
        scorer.accumulate(model, batches)
    model.zero_grad(set_to_none=True)
    return scorer


@torch.no_grad()
def corrected_ratio(a: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int, beta1: float, beta2: float,
                    eps: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """Adam's bias-corrected step direction after updating the moments with `a` (in place):
    m ← β1·m + (1 − β1)·a,  v ← β2·v + (1 − β2)·a²,
    returns (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε), written into `out` if given."""
    m.lerp_(a, 1 - beta1)
    v.mul_(beta2).addcmul_(a, a, value=1 - beta2)
    ratio = torch.div(v, 1 - beta2**t, out=out).sqrt_().add_(eps)
    return torch.div(m, ratio, out=ratio).div_(1 - beta1**t)
