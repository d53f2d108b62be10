"""SparseGPT (Frantar & Alistarh 2023): one-shot OBS pruning that also reconstructs the kept
weights, layer by layer. For a weight W (rows = outputs, columns = inputs) and its calibration
inputs X (one row per token, padding excluded; a running sum, nothing stored):

    H = XᵀX + λI,   λ = damp · mean(diag XᵀX)        U = upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU)

Columns go in blocks of B. At the start of a block the mask is chosen on the current weights by
the OBS error of removing each entry, s_ij = w_ij² / U_jj² (the lowest pruned; the block keeps
round((1 − s)·rows·c_end) − round((1 − s)·rows·c_start) entries, so the matrix keeps exactly
round((1 − s)·n)); with N:M, at every M-th column the N highest s of each row's group are kept.
Then column by column: q_j = w_j with its pruned entries set to 0, e_j = (w_j − q_j) / U_jj,
    W[:, j:end of block] −= e_j · U[j, j:end of block]
and after the block W[:, later columns] −= E · U[block, later columns]: each removal is
compensated on the columns not yet processed (the OBS update restricted to them). Block by
block through the model (pruning/calibration.py): a block's inputs come from the model with the
earlier blocks pruned and reconstructed. One-shot; allocation per matrix or N:M.
"""

from dataclasses import dataclass

import torch

from ..architectures import PrunableWeight
from ..calibration import calibrate_blockwise, input_features, stages
from ..masks import N_M, apply_masks, n_m, top_per_row
from ..options import option
from .base import Method, Variant, register


@dataclass(frozen=True)
class SparseGPTHparams:
    block_size: int = option(128, "columns per block of mask selection and lazy updates (B)", "[1, inf)")
    damp: float = option(0.01, "dampening λ as a fraction of the mean diagonal of XᵀX", "(0, inf)")


class Gram:
    """XᵀX over the rows seen."""

    def __init__(self, weight: PrunableWeight):
        features, dtype, device = input_features(weight)
        self.total = torch.zeros(features, features, dtype=dtype, device=device)

    def add(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.total.dtype)
        self.total.addmm_(rows.t(), rows)


def inverse_factor(gram: torch.Tensor, damp: float) -> torch.Tensor:
    """U, upper triangular, with UᵀU = (XᵀX + λI)⁻¹; an input never seen gets a unit diagonal."""
    h = gram.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    h.diagonal().add_(damp * torch.diag(h).mean())
    return torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)


def reconstruct(w: torch.Tensor, u: torch.Tensor, sparsity: float, allocation: str,
                block_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(new weights, mask, selection scores) of one (rows x columns) weight given U."""
    rows, columns = w.shape
    w = w.clone()
    mask = torch.ones_like(w, dtype=torch.bool)
    scores = torch.zeros_like(w)
    pattern = n_m(allocation)
    if pattern and (columns % pattern[1] or block_size % pattern[1]):
        raise ValueError(f"allocation {allocation}: {columns} columns and block_size {block_size} must be "
                         f"multiples of {pattern[1]}")

    def kept_before(column: int) -> int:
        return round((1.0 - sparsity) * rows * column)

    for start in range(0, columns, block_size):
        end = min(start + block_size, columns)
        block, u_block = w[:, start:end].clone(), u[start:end, start:end]
        d = torch.diag(u_block)
        errors = torch.zeros_like(block)
        if pattern is None:
            saliency = block.square() / d.square()
            keep = kept_before(end) - kept_before(start)
            block_mask = top_per_row(saliency.reshape(1, -1), keep, None).reshape(block.shape)
            scores[:, start:end] = saliency
        else:
            block_mask = torch.ones_like(block, dtype=torch.bool)
        for i in range(end - start):
            if pattern and i % pattern[1] == 0:
                group = slice(i, i + pattern[1])
                saliency = block[:, group].square() / d[group].square()
                block_mask[:, group] = top_per_row(saliency, pattern[0], None)
                scores[:, start + i:start + i + pattern[1]] = saliency
            column = block[:, i]
            kept = column * block_mask[:, i]
            error = (column - kept) / d[i]
            block[:, i:] -= error[:, None] * u_block[i, i:][None, :]
            block[:, i] = kept
            errors[:, i] = error
        w[:, start:end] = block
        mask[:, start:end] = block_mask
        w[:, end:] -= errors @ u[start:end, end:]
    return w, mask, scores


def prune_sparsegpt(model, batches, sparsity: float, allocation: str, hparams: SparseGPTHparams) -> tuple[dict, dict]:
    masks, scores = {}, {}

    def prune_stage(stage: list[PrunableWeight], stats: dict) -> None:
        for weight in stage:
            param = weight.module.weight
            rows = param.t() if weight.transposed else param
            u = inverse_factor(stats[weight.name].total, hparams.damp)
            new, mask, score = reconstruct(rows.to(u.dtype), u, sparsity, allocation, hparams.block_size)
            if weight.transposed:
                new, mask, score = new.t(), mask.t(), score.t()
            param.copy_(new)
            masks[weight.name], scores[weight.name] = mask.contiguous(), score.contiguous()

    calibrate_blockwise(model, batches, stages(model, together=False), Gram, prune_stage)
    apply_masks(model, masks)
    return masks, scores


register(Method(
    "sparsegpt", "OBS with reconstruction: prune by w²/[H⁻¹]_jj and update the kept weights to compensate",
    needs="activations", one_shot=prune_sparsegpt, hparams=SparseGPTHparams, allocations=("module", *N_M),
    rewrites_weights=True, variants=(
        Variant("SparseGPT", "one-shot", "#8b0000", allocation="module"),
        Variant("SparseGPT 2:4", "one-shot", "#c04040", allocation="2:4"),
    ),
))
