"""The two drivers every multi-step method shares: prune before fine-tuning (iterative) or
during it (gradual). Both keep exact counts and, unless resurrection is allowed, only ever
remove weights: a pruned weight's score is −∞ and its scorer state is dropped.

iterative (SEVENpre, Iter-SNIP, FORCE): for i = 1..T at fixed weights, update the scorer on
    the next batch with the current mask, then keep the top d_i = k^(i/T) (exponential).
gradual (SEVENdyn, gradual magnitude, movement, PLATON): during fine-tuning, update the scorer
    after every backward from t_i on; every `every` steps of [t_i, t_i + N_p), and at its last
    step, mask to the cubic density d(t + 1).
"""

from collections.abc import Callable, Iterator

import torch
from torch import nn

from .architectures import weight_table
from .checkpoint import attributes, restore_attributes
from .masks import GrowingPool, apply_masks, masks_from_scores, prune_lowest, prune_more
from .methods.base import Scorer, backward_on
from .modes import evaluating, gradients_only_for
from .schedules import cubic_density, exponential_density
from .train import Callback, TrainState


def iterative_prune(
    model: nn.Module, scorer: Scorer, batches: Iterator[dict], sparsity: float, iterations: int,
    allocation: str = "global", resurrect: bool = False,
    on_round: Callable[[int, dict], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Algorithm 1: T rounds of (update on a batch, keep top k^(i/T)); returns the final masks.

    With `resurrect` (FORCE), pruned weights are zero in the forward pass but their gradients
    are kept, θ in the score is the original weight, and a weight that scores back into the
    top d_i returns with its original value.
    """
    originals = {n: p.detach().clone() for n, p in scorer.params.items()} if resurrect else None
    weights = weight_table(model)
    masks = None
    with evaluating(model), gradients_only_for(model, scorer.params):
        for i in range(1, iterations + 1):
            backward_on(model, next(batches))
            scorer.update(originals)
            density = exponential_density(i, iterations, 1.0 - sparsity)
            masks = masks_from_scores(scorer.scores(), 1.0 - density, allocation,
                                      within=None if resurrect else masks, weights=weights)
            if resurrect:
                with torch.no_grad():
                    for name, p in scorer.params.items():
                        p.copy_(originals[name] * masks[name])
            else:
                apply_masks(model, masks)
                scorer.forget(masks)
            if on_round is not None:
                on_round(i, masks)
    if resurrect:
        apply_masks(model, masks)
    model.zero_grad(set_to_none=True)
    return masks


class GradualPruning(Callback):
    """Algorithm 2 as a fine-tuning callback; the scorer is made at t_i (its counter restarts)."""

    def __init__(self, make_scorer: Callable[[], Scorer], sparsity: float, start: int, duration: int,
                 every: int = 1, allocation: str = "global", accumulate_from_start: bool = False):
        self.make_scorer, self.final_density = make_scorer, 1.0 - sparsity
        self.start, self.end, self.every = start, start + duration, max(1, every)
        self.allocation, self.from_start = allocation, accumulate_from_start
        self.scorer: Scorer | None = None
        self.masks: dict[str, torch.Tensor] | None = None
        self.weights = None  # the model's architecture table, read once
        self.pool: GrowingPool | None = None  # candidates for the next prunings, if scores only grow

    def state(self, model: nn.Module) -> dict:
        """The scorer's running state, the masks and the candidate pool (None before they exist)."""
        return {"scorer": attributes(self.scorer, skip=("params", "hparams")) if self.scorer else None,
                "masks": self.masks, "pool": attributes(self.pool) if self.pool else None}

    def restore(self, state: dict, model: nn.Module) -> None:
        if state["scorer"] is not None:
            self.scorer = self.make_scorer()
            restore_attributes(self.scorer, state["scorer"])
        self.masks = state["masks"]
        if state["pool"] is not None:
            self.pool = GrowingPool()
            restore_attributes(self.pool, state["pool"])

    def _scoring(self, step: int) -> bool:
        return (self.from_start or step >= self.start) and step < self.end

    def after_backward(self, state: TrainState) -> None:
        if self._scoring(state.step):
            if self.scorer is None:
                self.scorer = self.make_scorer()
            self.scorer.update()

    def on_step_end(self, state: TrainState) -> None:
        step = state.step
        if not self.start <= step < self.end:
            return
        if (step - self.start) % self.every and step != self.end - 1:
            return
        density = cubic_density(step + 1, self.final_density, self.start, self.end - self.start)
        self.weights = self.weights or weight_table(state.model)
        weights = self.weights
        if self.masks is None:
            self.masks = masks_from_scores(self.scorer.scores(), 1.0 - density, self.allocation, weights=weights)
            state.set_masks(self.masks)
            self.scorer.forget(self.masks)
            if self.scorer.growing and self.allocation == "global":
                self.pool = GrowingPool()
            return
        scores = self.scorer.scores()
        if self.pool is not None:  # scores that only grow: the lowest are among few candidates
            removed = self.pool.prune(scores, self.masks, 1.0 - density)
        else:  # only what this step prunes is found and touched, not every weight
            self.masks, removed = prune_lowest(scores, self.masks, 1.0 - density, self.allocation, weights)
        prune_more(state.model, removed, state.optimizer)
        self.scorer.forget(self.masks, removed)
