"""Magnitude pruning (one-shot): S = |θ|. Keeps the largest weights; needs no data."""

import torch

from ..architectures import prunable_parameters
from .base import Batches, Method, Model


def magnitude_scores(model: Model, batches: Batches = ()) -> dict[str, torch.Tensor]:
    return {name: p.detach().abs().clone() for name, p in prunable_parameters(model).items()}


METHOD = Method("magnitude", "|θ|: keep the largest weights (one-shot)", magnitude_scores)
