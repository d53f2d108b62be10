"""A sensitivity run: how much each prunable matrix alone can lose, with no recovery.

For every prunable matrix W and every sparsity s of [sensitivity], the k = round(s·numel(W))
entries of W with the lowest score are zeroed (magnitude: |θ|; random: a fixed uniform draw per
matrix), every other matrix keeps its dense weights, and the model is evaluated on the first
`eval_size` validation examples; then W is restored. The accuracy drop

    Δ(W, s) = acc(dense) − acc(W pruned to s alone)

is the classic layer-wise sensitivity scan (Han et al. 2015, Fig. 5): a large Δ marks a matrix
any global criterion should spare.

    metrics.parquet      split "dense" (sparsity 0): the dense model on the same examples
    sensitivity.parquet  name, layer, module, numel, sparsity, metric, value: one row per
                         matrix x sparsity x metric (loss, accuracy, f1, mcc)
"""

import pandas as pd
import torch
from tqdm.auto import tqdm

from analysis.store import METRIC_COLUMNS, SENSITIVITY_COLUMNS, RunWriter

from .architectures import prunable_weights
from .stopwatch import Stopwatch
from .train import evaluate


def lowest(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Flat indices of the round(sparsity·n) lowest scores (ties: the lower index first)."""
    k = round(sparsity * scores.numel())
    return torch.sort(scores.flatten(), stable=True).indices[:k]


def matrix_scores(weight: torch.Tensor, criterion: str, generator: torch.Generator) -> torch.Tensor:
    """|θ| for magnitude, a uniform draw for random (drawn once per matrix, so one order serves
    every sparsity: the entries pruned at s are also pruned at every s' > s)."""
    if criterion == "magnitude":
        return weight.detach().abs()
    return torch.rand(weight.shape, generator=generator).to(weight.device)


@torch.no_grad()
def compute_sensitivity(prepared, writer: RunWriter, on_progress=None, checkpoints=None) -> dict:
    """Scan every prunable matrix at every sparsity; write the tables of the module docstring.
    (`checkpoints` is unused: a scan is minutes and evaluates only.)"""
    config, model = prepared.config, prepared.model
    settings = config.sensitivity
    val = prepared.encoded["validation"]
    subset = val if settings.eval_size == 0 else val.head(settings.eval_size)
    clock = Stopwatch()
    with clock.stage("evaluate"):
        dense = evaluate(model, subset)
    generator = torch.Generator().manual_seed(config.seed)
    weights = prunable_weights(model)
    rows, total = [], len(weights) * len(settings.sparsities)
    with tqdm(total=total, desc="sensitivity", unit="eval") as bar, clock.stage("scan"):
        for w in weights:
            param = w.module.get_parameter(w.name.rpartition(".")[2])
            original = param.detach().clone()
            order = matrix_scores(original, settings.criterion, generator)
            for sparsity in settings.sparsities:
                param.view(-1)[lowest(order, sparsity)] = 0
                for metric, value in evaluate(model, subset).items():
                    rows.append(dict(name=w.name, layer=w.table_layer, module=w.role, numel=param.numel(),
                                     sparsity=float(sparsity), metric=metric, value=float(value)))
                param.copy_(original)
                bar.update()
                if on_progress:
                    on_progress("sensitivity scan", bar.n, total)
    writer.table("metrics", pd.DataFrame([dict(step=0, sparsity=0.0, split="dense", metric=k, value=float(v))
                                          for k, v in dense.items()], columns=METRIC_COLUMNS))
    writer.table("sensitivity", pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS))
    return {"results": {"dense": dense, "matrices": len(weights), "eval_examples": len(subset)},
            "budget": {"evaluations": total + 1}, "timings": clock}
