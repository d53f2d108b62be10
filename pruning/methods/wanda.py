"""Wanda (Sun et al. 2023): pruning by weights and activations, no weight update.

    S_ij = |W_ij| · ‖X_j‖₂,   ‖X_j‖₂² = Σ over calibration tokens of x_j²   (padding excluded)

for the j-th input feature of the layer, a running sum of squares per feature (no activation
stored). The paper compares scores within each output row (allocation "row"; its ablation finds
per-output groups better than per-layer ones for LLMs) and goes block by block, each block's
inputs taken from the model with the earlier blocks already pruned (pruning/calibration.py).
Any other allocation works too; "global" compares all weights at once, so their inputs are all
read in one pass at the dense model. One-shot only.
"""

import torch

from ..architectures import PrunableWeight, weight_table
from ..calibration import calibrate_blockwise, input_features, stages
from ..masks import apply_masks, masks_from_scores
from .base import Method, Variant, register


class SquaredInputNorms:
    """Σ x_j² per input feature over the rows seen."""

    def __init__(self, weight: PrunableWeight):
        features, dtype, device = input_features(weight)
        self.total = torch.zeros(features, dtype=dtype, device=device)

    def add(self, rows: torch.Tensor) -> None:
        self.total += rows.to(self.total.dtype).square().sum(0)


def wanda_scores(weight: PrunableWeight, norms: SquaredInputNorms) -> torch.Tensor:
    """|W| times the input feature's L2 norm, shaped like the weight, in float32 at least (a
    half-precision product would overflow on the outlier features Wanda is about)."""
    norm = norms.total.sqrt()
    magnitude = weight.module.weight.detach().abs().to(norm.dtype)
    return magnitude * (norm[:, None] if weight.transposed else norm[None, :])


def prune_wanda(model, batches, sparsity: float, allocation: str, hparams) -> tuple[dict, dict]:
    table = weight_table(model)
    masks, scores = {}, {}

    def prune_stage(stage: list[PrunableWeight], stats: dict) -> None:
        found = {w.name: wanda_scores(w, stats[w.name]) for w in stage}
        chosen = masks_from_scores(found, sparsity, allocation, weights=table)
        for w in stage:
            w.module.weight.mul_(chosen[w.name])  # later blocks calibrate on this block pruned
        scores.update(found)
        masks.update(chosen)

    calibrate_blockwise(model, batches, stages(model, together=allocation == "global"), SquaredInputNorms,
                        prune_stage)
    apply_masks(model, masks)
    return masks, scores


register(Method(
    "wanda", "|W|·‖X_j‖₂: weights times the norm of their input feature, compared within each output row",
    needs="activations", one_shot=prune_wanda, variants=(
        Variant("Wanda", "one-shot", "#6b8e23", allocation="row"),
        Variant("Wanda (global)", "one-shot", "#a0c05a", allocation="global"),
        Variant("Wanda 2:4", "one-shot", "#4f6b1a", allocation="2:4"),
    ),
))
