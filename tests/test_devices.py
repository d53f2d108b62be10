"""Where runs compute: device names, the manifest record, and (on a CUDA machine only) that a
run on the GPU picks the same weights as on the CPU."""

from dataclasses import replace

import pytest
import torch

from analysis.solution_path import SolutionPath
from analysis.store import list_runs, load_table, load_tensors
from pruning.config import ConfigError, load_config
from pruning.data import Encoded
from pruning.devices import resolve_device
from pruning.methods import variants
from pruning.runner import execute

from .conftest import SMOKE, spp_smoke_config

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only answers")
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@no_gpu
def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused():
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"device: 'cuda' but torch .* sees no CUDA GPU; allowed here: auto or cpu"):
        resolve_device("cuda")


@pytest.mark.parametrize("name, message", [
    ("tpu", "device: 'tpu' is not a device; allowed: auto, cpu, cuda or cuda:N"),
    ("mps", "device: 'mps' is not supported; allowed: auto, cpu, cuda or cuda:N"),
    ("cuda:x", "device: 'cuda:x' is not a device"),
])
def test_bad_device_names_the_field_and_the_allowed_values(name, message):
    with pytest.raises(ConfigError, match=message):
        resolve_device(name)


def test_batches_cut_on_a_device_follow_the_same_seeded_order():
    data = Encoded({"input_ids": torch.arange(20).reshape(10, 2)}, torch.arange(10))
    moved = data.to(resolve_device("auto"))
    for a, b in zip(data.batches(4, torch.Generator().manual_seed(3)),
                    moved.batches(4, torch.Generator().manual_seed(3)), strict=True):
        assert torch.equal(a["labels"], b["labels"].cpu()) and b["labels"].device == moved.labels.device


@no_gpu
def test_manifest_records_the_device(smoke_runs):
    for run in list_runs(smoke_runs):
        assert run.manifest["machine"]["device"] == "cpu"


def _agreement(a, b) -> float:
    masks_a, masks_b = load_tensors(a, "masks"), load_tensors(b, "masks")
    same = sum(int((masks_a[n] == masks_b[n]).sum()) for n in masks_a)
    return same / sum(m.size for m in masks_a.values())


@needs_gpu
@pytest.mark.slow
def test_a_run_on_the_gpu_keeps_the_weights_the_cpu_run_keeps(tmp_path):
    """One-shot, data-free, iterative and gradual methods, and an SPP path, on both devices:
    float32 on either device differs by rounding only, so masks, read-offs and accuracies agree
    up to the entries at the threshold."""
    base = load_config(SMOKE)
    configs = [replace(base, prune=replace(base.prune, **variants()[label], sparsity=0.7))
               for label in ("magnitude", "random", "GraSP", "SEVENpre", "PLATON")]
    runs = {}
    for device in ("cpu", "cuda"):
        for config in [*configs, spp_smoke_config()]:
            execute(config, tmp_path / device, device=device)
        runs[device] = {r.label: r for r in list_runs(tmp_path / device)}
    for label, gpu in runs["cuda"].items():
        cpu = runs["cpu"][label]
        assert gpu.manifest["machine"]["device"].startswith("cuda") and gpu.manifest["run_id"] == cpu.manifest["run_id"]
        if gpu.is_path:
            paths = [SolutionPath.load(r.path / "path.safetensors") for r in (gpu, cpu)]
            for sparsity in (0.3, 0.5, 0.7):
                kept = [p.masks_at(sparsity, "global") for p in paths]
                assert (kept[0] == kept[1]).mean() > 0.9, (label, sparsity)
            continue
        if gpu.method != "dense":  # a device bug (wrong masks) agrees near 1 - 2·0.7·0.3 = 0.58
            assert _agreement(gpu, cpu) > 0.95, label
        accuracy = [load_table(r, "metrics").query("split == 'test' and metric == 'accuracy'")["value"].iloc[0]
                    for r in (gpu, cpu)]
        assert abs(accuracy[0] - accuracy[1]) <= 0.05, (label, accuracy)
