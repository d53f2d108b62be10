"""Shared fixtures: tiny models of the five architectures, and real runs of the smoke config."""

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "configs" / "smoke.toml"
ARCHITECTURES = ("tiny-bert", "tiny-vit", "tiny-clip", "tiny-gpt2", "tiny-llama")
SPP_SMOKE = dict(steps=60, checkpoints=12, alpha=5.0, nu=50.0, lam=1.0, recover=[0.3, 0.5, 0.7], eval_size=64,
                 latency_batch=16)
"""An SPP search on the smoke dense model whose entries join over steps 14-49 (not all at once)."""


def spp_smoke_config():
    """The smoke config with [spp] (SPP_SMOKE) instead of [prune]."""
    from pruning.config import SPPConfig, load_config

    return replace(load_config(SMOKE), prune=None, spp=SPPConfig(**SPP_SMOKE))


@pytest.fixture(autouse=True, scope="session")
def _token_cache(tmp_path_factory):
    os.environ["PRUNESCOPE_CACHE"] = str(tmp_path_factory.mktemp("cache"))


def clip_model():
    """A two-tower CLIPModel (text and vision), as tiny as the classifiers."""
    import transformers

    torch.manual_seed(0)
    tower = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    config = transformers.CLIPConfig(
        text_config=dict(tower, vocab_size=5000, bos_token_id=101, eos_token_id=102, pad_token_id=0),
        vision_config=dict(tower, image_size=28, patch_size=7, num_channels=1), projection_dim=16,
    )
    return transformers.CLIPModel(config).eval()


def tiny_inputs(name: str, batch: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """A real-shaped input batch for a tiny model (token ids or 1x28x28 images) with labels."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (batch,), generator=g)
    if name in ("tiny-vit", "tiny-clip"):
        return {"pixel_values": torch.randn(batch, 1, 28, 28, generator=g), "labels": labels}
    ids = torch.randint(1000, 5000, (batch, 12), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory) -> Path:
    """A runs directory holding real smoke runs: dense, magnitude and random at 50% and 90%, the
    SPP path of the same dense run and its sensitivity scan."""
    from pruning.config import load_config
    from pruning.runner import execute

    root = tmp_path_factory.mktemp("runs")
    base = load_config(SMOKE)
    for method in ("magnitude", "random"):
        for sparsity in (0.5, 0.9):
            execute(replace(base, prune=replace(base.prune, method=method, sparsity=sparsity)), root)
    execute(spp_smoke_config(), root)
    execute(sensitivity_smoke_config(), root)
    return root


def sensitivity_smoke_config():
    """Each matrix of the smoke dense model pruned alone to 50% and 100%, on 64 examples."""
    from pruning.config import SensitivityConfig, load_config

    return replace(load_config(SMOKE), prune=None, sensitivity=SensitivityConfig(sparsities=[0.5, 1.0], eval_size=64))


def spp_smoke_toml(folder: Path) -> Path:
    """spp_smoke_config() as a TOML file for the CLI: the smoke config with SPP_SMOKE's [spp] for
    its [prune]."""
    import re

    path = folder / "spp.toml"
    path.write_text(re.sub(r"\[prune\][^[]*", "", SMOKE.read_text())
                    + "[spp]\n" + "".join(f"{k} = {v!r}\n" for k, v in SPP_SMOKE.items()))
    return path


STRUCTURED_SMOKE = {"Taylor (structured)": dict(grid=[0.3, 0.6], recover=[0.3, 0.6]),
                    "lasso (structured)": dict(grid=[0.3, 0.6], recover=[0.3], target=0.3)}
"""Structured baselines beside the smoke SPP run: Taylor read off at 30 and 60%, the lasso at 30%."""


def structured_smoke_configs() -> dict:
    base = spp_smoke_config()
    return {method: replace(base, spp=replace(base.spp, method=method, **fields))
            for method, fields in STRUCTURED_SMOKE.items()}


@pytest.fixture(scope="session")
def structured_smoke_runs(tmp_path_factory) -> Path:
    """A runs directory of its own (the smoke runs' counts stay as they are): the smoke SPP run,
    the STRUCTURED_SMOKE runs and the dense run they share."""
    from pruning.runner import execute

    root = tmp_path_factory.mktemp("structured")
    for config in (spp_smoke_config(), *structured_smoke_configs().values()):
        execute(config, root)
    return root


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> Path:
    """A runs directory holding a real study: four methods x two sparsities x two seeds."""
    from pruning.sweep import load_sweep, run_sweep

    root = tmp_path_factory.mktemp("study")
    path = root / "study.toml"
    path.write_text(SMOKE.read_text() + '\n[sweep]\nstudy = "smoke"\nmethods = ["magnitude", "SNIP", "GraSP", '
                    '"PLATON"]\nsparsities = [0.5, 0.8]\nseeds = [0, 1]\n')
    sweep = run_sweep(load_sweep(path), root)
    assert not sweep.failed, sweep.failed
    return root


def pytest_collection_modifyitems(config, items):
    """Slow checks first, so the workers finish together instead of waiting on a late slow one."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
