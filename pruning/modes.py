"""Context managers that set a model's mode for a block and restore it after: eval mode (no
dropout) for scoring and calibration, gradients for the tracked parameters only."""

from contextlib import contextmanager

from torch import nn


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


@contextmanager
def evaluating(model: nn.Module):
    """Eval mode (no dropout) within the block; the training mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
