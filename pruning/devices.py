"""Where a run computes: "cpu" (the default), "auto" (the first CUDA GPU if there is one,
else the CPU), "cuda" or "cuda:N". The device is how a run is executed, not what it is: it is
recorded in the manifest but not in the run_id, so a run finished on either device is found
by both. Runs on the CPU are bit-reproducible given a seed; on CUDA they agree to rounding
(atomic adds in the embedding and attention backward make the last bits vary)."""

import os

import torch

from .config import ConfigError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str = "auto") -> torch.device:
    """The torch.device for `name`; a ConfigError naming the allowed values if it is unusable."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:  # torchrun: one GPU per process of a node
        name = f"cuda:{os.environ['LOCAL_RANK']}"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device: {name!r} is not a device; allowed: {DEVICE_CHOICES}") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device: {name!r} is not supported; allowed: {DEVICE_CHOICES}")
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if not count:
            raise ConfigError(f"device: {name!r} but torch {torch.__version__} sees no CUDA GPU; "
                             f"allowed here: auto or cpu")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device: {name!r} but there are {count} GPU(s): cuda:0..cuda:{count - 1}")
    return device


def describe(device: torch.device) -> dict:
    """What the manifest records of the device: its name, and the GPU model on CUDA."""
    if device.type != "cuda":
        return {"device": "cpu"}
    return {"device": str(device), "gpu": torch.cuda.get_device_name(device)}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU): wall-clock timing needs it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
