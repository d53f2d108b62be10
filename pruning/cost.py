"""What a model costs: stored parameters, FLOPs per example and median latency per batch on
the batch's device.

FLOPs are counted by torch.utils.flop_counter on one real forward (matmuls and attention;
2 per multiply-add), divided by the batch size. Latencies of several models are measured
interleaved (round-robin, after a warm-up), so a noisy machine slows them all alike.
"""

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .devices import synchronize


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flops_per_example(forward: Callable[[dict], object], batch: dict) -> float:
    """FLOPs of `forward(batch)` per example."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
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
