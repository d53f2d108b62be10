"""PruneScope's backend: score, mask, fine-tune and record pruned transformers.

Library API:
    prunable_parameters(model) -> {name: Parameter}
    score(method, model, batches, **hparams) -> {name: Tensor shaped like the parameter}
    masks_from_scores(scores, sparsity, allocation="global") -> {name: bool Tensor}
    apply_masks(model, masks); remove_masks(model)
    METHODS: {name: Method}
    solution_path(model, batches, **hparams) -> SolutionPath (SPP: .masks_at(sparsity, budget))
    pruning.compress.compress(model, masks) -> a smaller model equal to the structured-masked one
"""

__version__ = "0.1.0"

from .architectures import prunable_parameters
from .masks import apply_masks, masks_from_scores, remove_masks, to_torch_prune
from .methods import METHODS
from .methods.base import accumulate
from .spp import solution_path


def score(method: str, model, batches=(), **hparams):
    """Scores of `method` (a key of METHODS) for every prunable weight of `model`, after one pass
    over `batches` at fixed weights with an all-ones mask (eval mode)."""
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    return accumulate(METHODS[method].make_scorer(model, **hparams), model, batches).scores()


__all__ = [
    "METHODS", "apply_masks", "masks_from_scores", "prunable_parameters", "remove_masks", "score",
    "solution_path", "to_torch_prune",
]
