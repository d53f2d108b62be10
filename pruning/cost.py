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


def latencies_ms(forwards: dict[str, Callable[[dict], object]], batch: dict, repeats: int = 7) -> dict[str, float]:
    """Median wall time of each forward on `batch`, in ms, measured round-robin."""
    times: dict[str, list[float]] = {name: [] for name in forwards}
    device = next(iter(batch.values())).device
    with torch.no_grad():
        for forward in forwards.values():
            forward(batch)
        for _ in range(repeats):
            for name, forward in forwards.items():
                synchronize(device)
                start = time.perf_counter()
                forward(batch)
                synchronize(device)
                times[name].append(1e3 * (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in times.items()}
