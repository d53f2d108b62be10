"""A (compressed) classifier -> an ONNX file that onnxruntime runs with the same logits.

torch.onnx.export (the dynamo exporter: torch.export, then onnxscript) traces the model's
forward on an example batch; batch size and sequence length stay dynamic, so one file serves
any batch. Only tensors go in (no labels) and the logits come out. onnx and onnxruntime are
imported when used: the rest of PruneScope runs without them.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUTS = ("input_ids", "attention_mask", "token_type_ids", "pixel_values")
DYNAMIC = {"input_ids": ("batch", "sequence"), "attention_mask": ("batch", "sequence"),
           "token_type_ids": ("batch", "sequence"), "pixel_values": ("batch",)}


class _Logits(nn.Module):
    """forward(*tensors in `names` order) -> logits: the signature the exporter traces."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors, strict=True))).logits


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of `batch` a classifier reads, in a fixed order (labels dropped)."""
    return {name: batch[name] for name in INPUTS if name in batch}


def example_batch(model: nn.Module) -> dict[str, torch.Tensor]:
    """A two-example batch of the inputs `model` reads (images by its config, else 8 tokens)."""
    config = model.config
    if hasattr(config, "image_size") and hasattr(config, "num_channels"):
        return {"pixel_values": torch.zeros(2, config.num_channels, config.image_size, config.image_size)}
    ids = torch.ones(2, 8, dtype=torch.long)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def export_onnx(model: nn.Module, batch: dict[str, torch.Tensor], path: str | Path) -> Path:
    """Write `model` (eval mode, CPU) as ONNX at `path`, traced on `batch`."""
    inputs = model_inputs(batch)
    names = tuple(inputs)
    shapes = tuple({i: torch.export.Dim.AUTO for i, _ in enumerate(DYNAMIC[name])} for name in names)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _Logits(model.eval(), names).eval()
    with torch.no_grad():
        torch.onnx.export(wrapper, tuple(inputs.values()), str(path), input_names=list(names),
                          output_names=["logits"], dynamic_shapes=(shapes,), dynamo=True, verbose=False)
    return path


class OnnxClassifier:
    """An onnxruntime session with PyTorch's thread count: logits(batch) -> numpy logits. Its
    threads do not spin-wait after a run (onnxruntime's default), which would take the cores
    from whatever runs next and bias a latency measured after it."""

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def logits(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        return self.session.run(None, {name: batch[name].cpu().numpy() for name in self.names})[0]
