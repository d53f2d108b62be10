"""Structured magnitude: the root mean square of the weights (and biases) an entry controls,
    S_e = ‖θ_e‖₂ / √n_e,
θ_e = every row and column that removing entry e removes (pruning/structured.py: its q and k
rows in every head, its v rows and o columns, its FFN input and gate rows and output column),
n_e = their count (entry_params). The root mean square, not the norm, so that a QK dim (which
controls 2·H·(d + 1) parameters in BERT) and an FFN neuron (2·d + 1) are compared per weight under
one global budget."""

import torch

from ..structured import controlled_features, weight_dim
from .base import Scoring, StructuredMethod, register


@torch.no_grad()
def magnitude_scores(scoring: Scoring) -> torch.Tensor:
    per_block = []
    for block in scoring.blocks:
        every = {kind: torch.ones(n, dtype=torch.bool) for kind, n in block.sizes.items()}
        squares = {kind: torch.zeros(n, dtype=torch.float64) for kind, n in block.sizes.items()}
        for role, side, kind, index, owner in controlled_features(block, every):
            module = block.modules[role]
            dim = weight_dim(side, block.layout.transposed)
            weight = module.weight.detach().cpu().double().index_select(dim, index)
            square = weight.pow(2).sum(1 - dim)
            if side == "out" and module.bias is not None:
                square += module.bias.detach().cpu().double()[index].pow(2)
            squares[kind].index_add_(0, owner, square)
        per_block.append({kind: (s / block.entry_params(kind)).sqrt() for kind, s in squares.items()})
    return scoring.entries.join(per_block)


register(StructuredMethod("magnitude (structured)", "RMS of the weights an entry controls", color="#8c564b",
                          needs="nothing", score=magnitude_scores))
