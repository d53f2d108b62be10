"""PruneScope's backend: score, mask, fine-tune and record pruned transformers.

Library API:
    prunable_parameters(model) -> {name: Parameter}
    score(method, model, batches, **hparams) -> {name: Tensor shaped like the parameter}
    masks_from_scores(scores, sparsity, allocation="global", weights=weight_table(model))
        -> {name: bool Tensor}
    prune_once(method, model, batches, sparsity, allocation, **hparams) -> (masks, scores), applied
    apply_masks(model, masks); remove_masks(model)
    METHODS: {name: Method}
    solution_path(model, batches, **hparams) -> SolutionPath (SPP: .masks_at(sparsity, budget))
    pruning.compress.compress(model, masks) -> a smaller model equal to the structured-masked one
"""

__version__ = "0.1.0"

from .architectures import prunable_parameters, weight_table
from .masks import apply_masks, masks_from_scores, remove_masks, to_torch_prune
from .methods import METHODS
from .methods.base import accumulate
from .structured_methods.spp import solution_path


def _method(name: str):
    if name not in METHODS:
        raise ValueError(f"method: {name!r} is not one of {', '.join(METHODS)}")
    return METHODS[name]


def score(method: str, model, batches=(), **hparams):
    """Scores of `method` (a key of METHODS with a scorer) for every prunable weight of `model`,
    after one pass over `batches` at fixed weights with an all-ones mask (eval mode)."""
    return accumulate(_method(method).make_scorer(model, **hparams), model, batches).scores()


def prune_once(method: str, model, batches=(), sparsity: float = 0.5, allocation: str = "global", **hparams):
    """One-shot pruning of `model` in place by any method: (masks, the scores they came from)."""
    return _method(method).prune_once(model, batches, sparsity, allocation, **hparams)


__all__ = [
    "METHODS", "apply_masks", "masks_from_scores", "prunable_parameters", "prune_once", "remove_masks", "score",
    "solution_path", "to_torch_prune", "weight_table",
]
