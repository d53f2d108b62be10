"""Data parallelism under torchrun (torch.distributed; gloo on CPU, NCCL on GPUs).

`torchrun --nproc_per_node N -m pruning run CONFIG` starts N processes. Each holds the whole
model and data and walks the same seeded batch order; of each batch B it computes rank r's rows
B_r, and the gradients are summed over processes, so every step sees the global batch's gradient
    ∇L_B = Σ_r (|B_r| / |B|)·∇L_{B_r}        (L a mean over rows; exact when shards differ in size)
Weights, scores, masks, gradient statistics and SPP paths are then the same on every process and
equal one process's up to the order of float sums. Dropout draws its masks per process, so
fine-tuning matches one process in distribution, not bit for bit. Forward-only passes
(evaluation, Wanda's and SparseGPT's calibration) are not split. Rank 0 alone writes the run
folder and its checkpoints; the other ranks write theirs to a private folder deleted at exit.
Without torchrun (WORLD_SIZE unset or 1) every function here is the identity.
"""

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn


def world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_writer() -> bool:
    """Whether this process writes runs (rank 0, or the only process)."""
    return rank() == 0


def init(device: torch.device) -> None:
    """Join torchrun's process group once (NCCL on CUDA, else gloo); quiet progress bars off rank 0."""
    if world() > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if not is_writer():
            os.environ["TQDM_DISABLE"] = "1"


def local_rows(batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], float | None]:
    """This process's rows of `batch` and their share |B_r| / |B| (None: one process, all rows)."""
    if world() == 1:
        return batch, None
    size = len(batch["labels"])
    rows = torch.tensor_split(torch.arange(size, device=batch["labels"].device), world())[rank()]
    return {k: v[rows] for k, v in batch.items()}, len(rows) / size


def scaled(loss: torch.Tensor, share: float | None) -> torch.Tensor:
    """The local mean loss weighted by its share, so that gradients add up to the global one."""
    return loss if share is None else loss * share


@torch.no_grad()
def sum_(tensors: list[torch.Tensor]) -> None:
    """Sum `tensors` over processes, in place, in one collective."""
    if world() == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    for t, part in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
        t.copy_(part.view_as(t))


def sum_gradients(model: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    """After backward on a scaled local loss: the global gradients in `.grad` and the global loss."""
    if world() == 1:
        return loss
    total = loss.detach().reshape(1).clone()
    sum_([p.grad for p in model.parameters() if p.grad is not None] + [total])
    return total[0]


def agree(flag: bool) -> bool:
    """Rank 0's `flag` on every process (what it found in the runs folder decides for all)."""
    if world() == 1:
        return flag
    value = torch.tensor([int(flag)])
    dist.broadcast(value, 0)
    return bool(value.item())


@cache
def private_root() -> Path:
    """Where a rank other than 0 writes the runs it computes alongside rank 0 (deleted at exit)."""
    folder = Path(tempfile.mkdtemp(prefix=f"prunescope-rank{rank()}-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder
