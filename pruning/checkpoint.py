"""Checkpoints that let a killed run continue (`--resume`) to the result it would have had.

A stage of a run (its dense or recovery fine-tuning, an SPP search, each SPP recovery) saves its
whole state every `every` steps and when it ends, to <runs>/.checkpoints/<run_id>/<stage>.safetensors:
the tensors as safetensors, the rest of the state as JSON in the file's header, never pickle.
A save writes a new file and renames it over the old one, so a kill leaves the previous one
whole. A state is a tree of dicts (str keys), lists, tensors and JSON scalars.

Resuming is exact on CPU when the versions and the thread count are the ones the checkpoint
records: resume refuses anything else. Without `resume`, a run's old checkpoints are deleted
first; a run that finishes deletes its own.
"""

import json
import math
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import __version__
from .distributed import is_writer

_TENSOR = "__tensor__"


def environment() -> dict:
    """What makes two processes compute bit-identical steps on CPU."""
    return {"prunescope": __version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def pack(tree, tensors: dict[str, torch.Tensor], prefix: str = "s"):
    """`tree` as JSON-able data; its tensors (copied to the CPU) go into `tensors` by path."""
    if isinstance(tree, torch.Tensor):
        tensors[prefix] = tree.detach().to("cpu", copy=True).contiguous()
        return {_TENSOR: prefix}
    if isinstance(tree, dict):
        if not all(isinstance(k, str) for k in tree):
            raise TypeError(f"checkpoint: {prefix} has keys that are not strings")
        return {k: pack(v, tensors, f"{prefix}.{k}") for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [pack(v, tensors, f"{prefix}.{i}") for i, v in enumerate(tree)]
    if tree is None or isinstance(tree, bool | int | str | float):
        return {"__float__": repr(tree)} if isinstance(tree, float) and not math.isfinite(tree) else tree
    raise TypeError(f"checkpoint: {prefix} is a {type(tree).__name__}, not a tensor, list, dict or scalar")


def unpack(data, tensors: dict[str, torch.Tensor], device: torch.device | str = "cpu"):
    """The inverse of pack, tensors moved to `device`."""
    if isinstance(data, dict):
        if _TENSOR in data:
            return tensors[data[_TENSOR]].to(device)
        if "__float__" in data:
            return float(data["__float__"])
        return {k: unpack(v, tensors, device) for k, v in data.items()}
    if isinstance(data, list):
        return [unpack(v, tensors, device) for v in data]
    return data


def attributes(obj, skip: tuple[str, ...] = ()) -> dict:
    """An object's state as its attributes (a scorer's running sums, a pool's candidates)."""
    return {k: v for k, v in vars(obj).items() if k not in skip}


def restore_attributes(obj, state: dict) -> None:
    for name, value in state.items():
        setattr(obj, name, value)


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """optimizer.state_dict() with string keys."""
    saved = optimizer.state_dict()
    return {"state": {str(k): v for k, v in saved["state"].items()}, "param_groups": saved["param_groups"]}


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in state["param_groups"]]
    optimizer.load_state_dict({"state": {int(k): v for k, v in state["state"].items()}, "param_groups": groups})


def rng_state() -> dict:
    """The global generators a step draws from (dropout): CPU, and CUDA's when there is one."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def load_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if state["cuda"]:
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


class Checkpoint:
    """One stage's checkpoint file; `due(done)` says whether to save after `done` steps of `total`.
    Under torchrun every process resumes from rank 0's file and only rank 0 saves."""

    def __init__(self, path: Path, every: int, resume: bool, resumed: list):
        self.path, self.every, self.resume, self.resumed = path, every, resume, resumed

    def due(self, done: int, total: int) -> bool:
        return self.every > 0 and (done % self.every == 0 or done == total)

    def save(self, step: int, state: dict) -> None:
        if not is_writer():
            return
        tensors: dict[str, torch.Tensor] = {}
        header = {"step": str(step), "environment": json.dumps(environment()),
                  "state": json.dumps(pack(state, tensors))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.partial")
        save_file(tensors, str(partial), metadata=header)
        os.replace(partial, self.path)

    def load(self, device: torch.device | str = "cpu") -> tuple[int, dict] | None:
        """(steps done, state) of the last save; None when not resuming or there is none."""
        from .config import ConfigError  # config imports the methods, which import this module

        if not self.resume or not self.path.exists():
            return None
        try:
            with safe_open(str(self.path), framework="pt") as handle:
                header = handle.metadata()
                names = handle.keys()
                tensors = {key: handle.get_tensor(key) for key in names}
            saved, state = json.loads(header["environment"]), json.loads(header["state"])
        except (SafetensorError, OSError, KeyError, ValueError) as error:
            raise ConfigError(f"--resume: the checkpoint {self.path} cannot be read ({error}); "
                              "delete it or run without --resume") from None
        here = environment()
        if saved != here:
            differ = ", ".join(f"{k} {saved.get(k)} (here {here[k]})" for k in here if saved.get(k) != here[k])
            raise ConfigError(f"--resume: {self.path.name} was written with {differ}; an exact resume needs "
                              "the same ones (set the thread count with OMP_NUM_THREADS), or run without --resume")
        step = int(header["step"])
        self.resumed.append({"stage": self.path.stem, "step": step})
        return step, unpack(state, tensors, device)


class Checkpoints:
    """The checkpoints of one run: a stage's file by name; every `every` steps (0: never)."""

    def __init__(self, root: Path, run_id: str, every: int = 0, resume: bool = False):
        self.folder = Path(root) / ".checkpoints" / run_id
        self.every, self.resume = every, resume
        self.resumed: list[dict] = []
        if not resume:
            self.clear()

    def stage(self, name: str) -> Checkpoint:
        return Checkpoint(self.folder / f"{name}.safetensors", self.every, self.resume, self.resumed)

    def clear(self) -> None:
        if is_writer():
            shutil.rmtree(self.folder, ignore_errors=True)
