"""Structured magnitude: the root mean square of the weights (and biases) an entry controls,
    S_e = ‖θ_e‖₂ / √n_e,
θ_e = every row and column that removing entry e removes (pruning/structured.py: its q and k
rows in every head, its v rows and o columns, its FFN input and gate rows and output column),
n_e = their count (entry_params). The root mean square, not the norm, so that a QK dim (which
controls 2·H·(d + 1) parameters in BERT) and an FFN neuron (2·d + 1) are compared per weight under
one global budget.

Under that global budget the VO dims, whose weights are the smallest, go first: at 70% it empties
VO in five of MiniLM's six layers. The uniform variant keeps each layer's share per kind instead,
as local structured pruning does (Torch-Pruning's default): it ranks by the quantile of S_e
within its layer and kind, (rank + 1) / n, so every pool loses about the same share."""

import torch

from ..structured import controlled_features, weight_dim
from .base import Scoring, StructuredMethod, register


@torch.no_grad()
def _rms(scoring: Scoring) -> list[dict[str, torch.Tensor]]:
    """S_e per block and kind."""
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
    return per_block


def _quantile(scores: torch.Tensor) -> torch.Tensor:
    """(rank + 1) / n of each score in its pool, ties by index."""
    rank = torch.empty(len(scores), dtype=torch.float64)
    rank[torch.argsort(scores, stable=True)] = torch.arange(len(scores), dtype=torch.float64)
    return (rank + 1) / len(scores)


def magnitude_scores(scoring: Scoring) -> torch.Tensor:
    return scoring.entries.join(_rms(scoring))


def uniform_magnitude_scores(scoring: Scoring) -> torch.Tensor:
    return scoring.entries.join([{kind: _quantile(s) for kind, s in pools.items()} for pools in _rms(scoring)])


register(StructuredMethod("magnitude (structured)", "RMS of the weights an entry controls", color="#8c564b",
                          needs="nothing", score=magnitude_scores))
register(StructuredMethod("magnitude (structured, uniform)",
                          "RMS of the weights an entry controls, the same share kept in every layer and kind",
                          color="#c49c94", needs="nothing", score=uniform_magnitude_scores))
