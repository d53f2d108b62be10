"""What a structured method is, and the one way to add one: a file in pruning/structured_methods/
that ends with `register(StructuredMethod(...))`.

A structured method orders the QK, VO and FFN entries of a fine-tuned model (pruning/structured.py)
with the weights frozen; every sparsity is then read off that one order under the run's budget
(analysis/solution_path.py: parameter-weighted, entries kept in rank order), so every method is
compared on the same entries, the same budget and the same recovery fine-tuning. A method either
scores the entries (higher = kept; ranked by score, ties by index) or, like SPP, returns its own
path (its ranking and what its dynamics recorded).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analysis.solution_path import SolutionPath

from ..modes import evaluating, gradients_only_for
from ..registry import add
from ..structured import Entries, StructuredBlock, structured_blocks

NEEDS = ("nothing", "gradients")


@dataclass
class Scoring:
    """What a structured score reads: the model (eval mode, weights frozen), its blocks and entry
    layout, an endless stream of training batches, how many to read, the run's seed, and the
    search settings ([spp]'s fields: steps, alpha, kappa, target, ...)."""

    model: nn.Module
    blocks: list[StructuredBlock]
    entries: Entries
    batches: Iterator[dict]
    count: int
    seed: int
    settings: dict


@dataclass(frozen=True)
class StructuredMethod:
    """A registered structured method: `score(Scoring)` -> one score per entry (flat, Entries
    order), or `path(model, batches, evaluate, on_step, **settings)` -> its SolutionPath."""

    name: str
    summary: str
    color: str
    needs: str
    score: Callable[[Scoring], torch.Tensor] | None = None
    path: Callable[..., SolutionPath] | None = None
    per_target: bool = False
    """one search per target sparsity ([spp] target): only the read-off at the target is its result"""

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise ValueError(f"{self.name}: needs {self.needs!r} is not one of {', '.join(NEEDS)}")
        if (self.score is None) == (self.path is None):
            raise ValueError(f"{self.name}: give a score or a path function, not both or neither")

    def run(self, model: nn.Module, batches: Iterable[dict], seed: int = 0, count: int = 16,
            settings: dict | None = None, evaluate: Callable | None = None,
            on_step: Callable[[int, int], None] | None = None, checkpoint=None) -> SolutionPath:
        """The method's path on `model`; `settings` are the search's (SPP), `count` the batches a
        score reads; a path method continues from `checkpoint` (pruning.checkpoint) and saves to it."""
        settings = settings or {}
        if self.path is not None:
            return self.path(model, batches, evaluate=evaluate, on_step=on_step, checkpoint=checkpoint, **settings)
        blocks = structured_blocks(model)
        entries = Entries(blocks)
        with evaluating(model), gradients_only_for(model, {}):
            scores = self.score(Scoring(model, blocks, entries, iter(batches), count, seed, settings))
        hparams = {"method": self.name, "batches": count if self.needs == "gradients" else 0, "seed": seed}
        if self.per_target:
            hparams.update({k: settings[k] for k in ("target", "steps", "alpha", "kappa")})
        return ranked_path(blocks, entries, scores.detach().double().cpu().numpy(), hparams)


def ranked_path(blocks: list[StructuredBlock], entries: Entries, scores: np.ndarray, hparams: dict) -> SolutionPath:
    """The path of a score: rank by larger score, ties by index; priority = score; no checkpoints."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return SolutionPath(blocks=tuple(b.name for b in blocks), **entries.arrays, rank=rank, priority=scores,
                        join_step=np.full(len(scores), -1), gamma=np.zeros((len(scores), 0), np.float32),
                        steps=np.zeros(0, np.int64), loss=np.zeros(0), accuracy=np.zeros(0), hparams=hparams)


REGISTRY: dict[str, StructuredMethod] = {}


def register(method: StructuredMethod) -> StructuredMethod:
    """Add `method` to the registry (once per name); returns it."""
    return add(REGISTRY, method, "structured method")
