"""Block-by-block calibration for methods that read layer inputs (Wanda, SparseGPT).

For each stage (the prunable weights of one block, then those outside the blocks; or all of
them at once when the budget is global) every calibration batch runs forward, no gradients,
eval mode, with a pre-hook on each module of the stage that feeds the input rows X (one row
per token, padding excluded) to that weight's statistic; the forward stops once every module
of the stage has been seen. Then `prune_stage` chooses the stage's masks (and may rewrite its
weights) in place, so later stages calibrate on the model with the earlier blocks pruned, as
both papers do. Statistics are running sums: no activation is stored. The price of needing no
per-architecture block runner: calibrating block i runs the forward through blocks 1..i, about
L/2 full forwards a batch for L blocks, where the papers' code keeps each block's inputs and runs
one block at a time.
"""

import contextlib
from collections.abc import Callable, Iterable
from typing import Protocol

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from .architectures import PrunableWeight, prunable_weights
from .modes import evaluating


class InputStatistic(Protocol):
    def add(self, rows: torch.Tensor) -> None:
        """Fold in input rows X (tokens x input features)."""


def input_features(weight: PrunableWeight) -> tuple[int, torch.dtype, torch.device]:
    """(input features, a float dtype of at least 32 bits, device) of a prunable linear weight:
    what an input statistic is sized and kept in."""
    param = weight.module.weight
    features = param.shape[0] if weight.transposed else param.shape[1]
    return features, torch.promote_types(param.dtype, torch.float32), param.device


class _StageSeen(Exception):
    """Raised inside the forward once every module of the stage has read its input."""


def input_rows(x: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """A layer input as rows of features: (batch, tokens, features) keeps the tokens that the
    attention mask marks real; (batch, features) is already rows."""
    if x.dim() == 3 and attention_mask is not None and attention_mask.shape == x.shape[:2]:
        return x[attention_mask.bool()]
    return x.reshape(-1, x.shape[-1])


def stages(model: nn.Module, together: bool) -> list[list[PrunableWeight]]:
    """The prunable weights in calibration order: one stage per block, then each weight outside
    the blocks on its own; or one stage of all of them (`together`)."""
    weights = prunable_weights(model)
    if together:
        return [weights]
    grouped: dict[object, list[PrunableWeight]] = {}
    for w in weights:
        grouped.setdefault(("block", w.layer) if w.layer is not None else ("outside", w.name), []).append(w)
    return list(grouped.values())


def calibrate_blockwise(model: nn.Module, batches: Iterable[dict], stage_list: list[list[PrunableWeight]],
                        statistic: Callable[[PrunableWeight], InputStatistic],
                        prune_stage: Callable[[list[PrunableWeight], dict[str, InputStatistic]], None]) -> None:
    """Calibrate and prune stage after stage (see the module docstring)."""
    for w in prunable_weights(model):
        if not isinstance(w.module, nn.Linear | Conv1D):
            raise ValueError(f"{w.name}: calibration reads linear layers only, not {type(w.module).__name__}")
    batches = [{k: v for k, v in b.items() if k != "labels"} for b in batches]
    with evaluating(model), torch.no_grad():
        for stage in stage_list:
            stats = {w.name: statistic(w) for w in stage}
            handles = []
            seen: set[str] = set()
            mask: list[torch.Tensor | None] = [None]

            def record(name: str, x: torch.Tensor, stats=stats, seen=seen, mask=mask, stage=stage) -> None:
                stats[name].add(input_rows(x, mask[0]))
                seen.add(name)
                if len(seen) == len(stage):
                    raise _StageSeen

            for w in stage:
                handles.append(w.module.register_forward_pre_hook(lambda m, args, n=w.name: record(n, args[0])))
            try:
                for batch in batches:
                    seen.clear()
                    mask[0] = batch.get("attention_mask")
                    with contextlib.suppress(_StageSeen):
                        model(**batch)
            finally:
                for handle in handles:
                    handle.remove()
            unread = [w.name for w in stage if w.name not in seen]
            if batches and unread:
                raise ValueError(f"calibration: the forward never reaches {', '.join(unread)}; its inputs cannot "
                                 "be read (a tower the task does not use?)")
            prune_stage(stage, stats)
