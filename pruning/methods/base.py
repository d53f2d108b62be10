"""What a pruning method is: a scorer (gradients in, one score per weight out) with its
hyperparameters' defaults and the schedules it can prune on. Higher score = kept."""

from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ..architectures import prunable_parameters

SCHEDULES = ("one-shot", "iterative", "gradual")
"""one-shot: score once, then fine-tune; iterative: prune before fine-tuning in T rounds on the
exponential schedule; gradual: prune during fine-tuning on the cubic schedule."""


class Scorer:
    """Accumulates a score from the gradients of successive batches.

    `update(weights)` reads `.grad` of the tracked parameters; θ in the score is `weights`
    (default: the parameters' current values, the θ the gradient was taken at).
    `scores()` may be called at any time; `forget(masks)` zeroes the state of pruned weights.
    """

    uses_data = True

    def __init__(self, params: dict[str, nn.Parameter]):
        self.params = params

    def update(self, weights: dict[str, torch.Tensor] | None = None) -> None:
        """Accumulate this step's gradients (data-free scorers ignore them)."""

    def scores(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forget(self, masks: dict[str, torch.Tensor]) -> None:
        """No resurrection: a pruned weight's accumulated state is dropped (default: none kept)."""

    def accumulate(self, model: nn.Module, batches: Iterable[dict]) -> None:
        """One pass over `batches` at fixed weights: a backward and an update per batch."""
        for batch in batches:
            backward_on(model, batch)
            self.update()


@dataclass(frozen=True)
class Method:
    """A registered pruning method; `schedules[0]` is its default schedule."""

    name: str
    summary: str
    scorer: type[Scorer]
    hparams: dict[str, float | int | str | bool] = field(default_factory=dict)
    schedules: tuple[str, ...] = ("one-shot",)
    presets: dict[str, dict] = field(default_factory=dict)
    scores_from_start: bool = False
    """gradual only: accumulate scores from the first fine-tuning step (movement, PLATON), not t_i"""

    @property
    def uses_data(self) -> bool:
        return self.scorer.uses_data

    def check_hparams(self, given: dict) -> dict:
        """Defaults overlaid with `given`; an unknown name is a ValueError listing the known ones."""
        unknown = sorted(set(given) - set(self.hparams))
        if unknown:
            allowed = ", ".join(sorted(self.hparams)) or "none"
            raise ValueError(f"prune.hparams: {', '.join(unknown)} not known to {self.name}; allowed: {allowed}")
        return {**self.hparams, **given}

    def make_scorer(self, model: nn.Module, **hparams) -> Scorer:
        return self.make_scorer_for(prunable_parameters(model), **hparams)

    def make_scorer_for(self, params: dict[str, nn.Parameter], **hparams) -> Scorer:
        """A scorer over any named parameters (the prunable ones of a model, or a test's own)."""
        return self.scorer(params, **self.check_hparams(hparams))


@contextmanager
def gradients_only_for(model: nn.Module, params: dict[str, nn.Parameter]):
    """Within the block only `params` require gradients (no wasted embedding gradients)."""
    keep = {id(p) for p in params.values()}
    previous = {name: p.requires_grad for name, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(previous[name])


def backward_on(model: nn.Module, batch: dict[str, torch.Tensor]) -> float:
    """Fresh gradients of the loss on `batch`; returns the loss."""
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    return loss.item()


def accumulate(scorer: Scorer, model: nn.Module, batches: Iterable[dict]) -> Scorer:
    """One pass of `scorer` over `batches` at fixed weights (eval mode: no dropout)."""
    if scorer.uses_data:
        was_training = model.training
        model.eval()
        with gradients_only_for(model, scorer.params):
            scorer.accumulate(model, batches)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
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
