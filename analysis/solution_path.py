"""SolutionPath: one SPP run, every sparsity; read-offs are cheap functions of its arrays.

Entries (every QK dim, VO dim and FFN neuron of every block) lie on the first axis, the K
checkpoints of the path on the last, as in scikit-learn's lasso_path:
    gamma[e, c]   Γ of entry e at checkpoint c (steps[c])
    rank[e]       0 for the entry kept first: earliest first join (the "code" variant: most
                  checks with Γ ≠ 0), ties and never-joined entries by larger final |Z|, then index
    priority[e]   the first key of that order, larger = kept earlier (the authors' read-off)
    grad_mean[e], grad_abs[e]   the mean ∂L/∂M and |∂L/∂M| over an SPP search (empty otherwise)
    weight[e]     parameters the entry controls (biases included)
Read-off at sparsity s ("global"): keep entries in rank order until the kept parameters reach
(1 − s)·Σ weight. "per_pool": the same within attention (QK + VO) and FFN separately.
"authors": their rule, per pool and unweighted: with the pool's n priorities sorted ascending,
threshold = the k-th, k = argmin_i |i − s·n| (i = 1..n), keep priority ≥ threshold; so ties at
the threshold stay (at most k − 1 entries go, none where a tie spans the cut). Each budget gives
nested masks: a sparser read-off is a subset of a denser one. Pure numpy: the dashboard reads
paths without torch.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

KINDS = ("qk", "vo", "ffn")
POOLS = {"attention": (0, 1), "ffn": (2,)}
BUDGETS = ("global", "per_pool", "authors")
_ARRAYS = ("block", "kind", "index", "weight", "rank", "priority", "join_step", "gamma", "steps", "loss",
           "accuracy", "grad_mean", "grad_abs")


@dataclass(frozen=True)
class SolutionPath:
    """An immutable SPP path (arrays read-only); see the module docstring for the fields."""

    blocks: tuple[str, ...]
    block: np.ndarray
    kind: np.ndarray
    index: np.ndarray
    weight: np.ndarray
    rank: np.ndarray
    priority: np.ndarray
    join_step: np.ndarray
    gamma: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    grad_mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    grad_abs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    hparams: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in _ARRAYS:
            array = np.array(getattr(self, name))
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def total_params(self) -> int:
        return int(self.weight.sum())

    def masks_at(self, sparsity: float, budget: str = "global") -> np.ndarray:
        """Bool per entry: the sub-network at `sparsity` (share of structured parameters removed;
        for "authors", share of entries removed per pool)."""
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"sparsity: {sparsity} is not in [0, 1]")
        if budget not in BUDGETS:
            raise ValueError(f"budget: {budget!r} is not one of {', '.join(BUDGETS)}")
        if budget == "global":
            return self._keep_by_rank(np.ones(len(self.rank), bool), sparsity)
        keep = np.zeros(len(self.rank), bool)
        for kinds in POOLS.values():
            pool = np.isin(self.kind, kinds)
            keep |= (self._keep_authors(pool, sparsity) if budget == "authors"
                     else self._keep_by_rank(pool, sparsity))
        return keep

    def _keep_by_rank(self, pool: np.ndarray, sparsity: float) -> np.ndarray:
        members = np.flatnonzero(pool)
        order = members[np.argsort(self.rank[members], kind="stable")]
        before = np.cumsum(self.weight[order]) - self.weight[order]
        keep = np.zeros(len(self.rank), bool)
        keep[order[before < (1.0 - sparsity) * self.weight[members].sum()]] = True
        return keep

    def _keep_authors(self, pool: np.ndarray, sparsity: float) -> np.ndarray:
        values = np.sort(self.priority[pool])
        if not len(values):
            return pool.copy()
        k = int(np.argmin(np.abs(np.arange(1, len(values) + 1) - sparsity * len(values))))
        return pool & (self.priority >= values[k])

    def kept_params(self, keep: np.ndarray) -> int:
        return int(self.weight[keep].sum())

    def sparsity_of(self, keep: np.ndarray) -> float:
        """Share of structured parameters a mask removes."""
        return 1.0 - self.kept_params(keep) / self.total_params

    def block_masks(self, keep: np.ndarray) -> dict[str, list[np.ndarray]]:
        """kind -> one bool vector per block (the layout compress() and the hooks take)."""
        out = {}
        for code, kind in enumerate(KINDS):
            out[kind] = []
            for b in range(len(self.blocks)):
                rows = (self.kind == code) & (self.block == b)
                vector = np.zeros(int(rows.sum()), bool)
                vector[self.index[rows]] = keep[rows]
                out[kind].append(vector)
        return out

    def save(self, path: str | Path) -> Path:
        """One safetensors file; blocks and hyperparameters go in its JSON metadata."""
        path = Path(path)
        arrays = {name: np.ascontiguousarray(getattr(self, name)) for name in _ARRAYS}
        save_file(arrays, str(path), metadata={"blocks": json.dumps(list(self.blocks)),
                                               "hparams": json.dumps(self.hparams)})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SolutionPath":
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata()
        arrays = load_file(str(path))
        return cls(blocks=tuple(json.loads(metadata["blocks"])), hparams=json.loads(metadata["hparams"]),
                   **{name: arrays[name] for name in _ARRAYS if name in arrays})
