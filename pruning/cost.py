"""What a model costs: stored parameters, FLOPs per example and median latency per batch on
the batch's device.

FLOPs are those of the linear layers (2 per multiply-add), counted by torch.utils.flop_counter
on one real forward and divided by the batch size. The attention products are left out on
every device: PyTorch's fused CPU attention has no FLOP formula, so the CUDA kernels' are
switched off too, and a model costs the same FLOPs wherever it is counted. Latencies of
several models are measured interleaved (round-robin, after a warm-up), so a noisy machine
slows them all alike.
"""

import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .devices import synchronize

aten = torch.ops.aten


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


_FUSED_ATTENTION = {op: (lambda *args, **kwargs: 0) for op in (
    aten._scaled_dot_product_efficient_attention, aten._scaled_dot_product_flash_attention,
    aten._scaled_dot_product_cudnn_attention, aten._efficient_attention_forward, aten._flash_attention_forward,
)}


def flops_per_example(forward: Callable[[dict], object], batch: dict) -> float:
    """Linear-layer FLOPs of `forward(batch)` per example."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_FUSED_ATTENTION) as counter:
        forward(batch)
    return counter.get_total_flops() / len(next(iter(batch.values())))


def interleaved(candidates: dict[str, Callable[[], object]], repeats: int, warmup: int = 2,
                device: torch.device | None = None) -> dict[str, float]:
    """Median seconds of each callable, run in turn `repeats` times after `warmup` rounds;
    `device` (default: the CPU) is synchronised around every call."""
    device = device or torch.device("cpu")
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for round_ in range(warmup + repeats):
        for name, fn in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def latencies_ms(forwards: dict[str, Callable[[dict], object]], batch: dict, repeats: int = 7) -> dict[str, float]:
    """Median wall time of each forward on `batch`, in ms, measured round-robin after one warm-up."""
    device = next(iter(batch.values())).device
    with torch.no_grad():
        seconds = interleaved({name: partial(forward, batch) for name, forward in forwards.items()}, repeats,
                              warmup=1, device=device)
    return {name: 1e3 * s for name, s in seconds.items()}
