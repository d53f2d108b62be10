"""An SPP run: dense weights -> solution path -> read-offs, with and without recovery, and costs.

    path.safetensors   the SolutionPath (analysis/solution_path.py)
    metrics.parquet    split "dense" (sparsity 0), "path" (each checkpoint: support of Γ on the
                       fixed validation subset), "readoff" (every grid sparsity, no recovery),
                       "recovered" and "recovered-test" (the recover sparsities, after [finetune])
    speed.parquet      per recover sparsity: params, FLOPs per example and latency (on the run's device) of the
                       dense, masked and compressed models
"""

import copy
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from analysis.solution_path import SolutionPath
from analysis.store import METRIC_COLUMNS, SPEED_COLUMNS, RunWriter, read_run

from .compress import bake, compress, save_compressed
from .config import ConfigError, config_from_dict
from .cost import flops_per_example, latencies_ms, parameters
from .data import Encoded
from .models import load_model, load_run_weights
from .spp import read_off, solution_path
from .structured import masked
from .train import endless_batches, evaluate, finetune


def _rows(step: int, sparsity: float, split: str, metrics: dict) -> list[dict]:
    return [dict(step=step, sparsity=sparsity, split=split, metric=k, value=float(v)) for k, v in metrics.items()]


def _subset(data: Encoded, size: int) -> Encoded:
    return Encoded({k: v[:size] for k, v in data.features.items()}, data.labels[:size])


def _cost_rows(model, masks, small, batch: dict, sparsity: float) -> list[dict]:
    """Params, FLOPs per example and latency of the dense, masked and compressed models."""
    def masked_forward(b):
        with masked(model, masks):
            return model(**b)

    forwards = {"dense": lambda b: model(**b), "masked": masked_forward, "compressed": lambda b: small(**b)}
    timing = latencies_ms(forwards, batch)
    stored = {"dense": parameters(model), "masked": parameters(model), "compressed": parameters(small)}
    return [dict(sparsity=sparsity, model=name, params=stored[name], flops=flops_per_example(forward, batch),
                 latency_ms=timing[name]) for name, forward in forwards.items()]


def compute_spp(prepared, writer: RunWriter, on_progress=None) -> dict:
    """Search, read off, recover and measure; write the artifacts of the module docstring."""
    config, model = prepared.config, prepared.model
    spp = config.spp
    train, val, test = (prepared.encoded[p] for p in ("train", "validation", "test"))
    subset = _subset(val, spp.eval_size)
    dense = evaluate(model, val)
    rows = _rows(0, 0.0, "dense", dense)
    batches = endless_batches(train, config.finetune.batch_size, config.seed)
    with tqdm(total=spp.steps, desc="SPP search", unit="step") as bar:
        def report(k: int, total: int) -> None:
            bar.update(1)
            if on_progress:
                on_progress("SPP search", k, total)

        path = solution_path(model, batches, evaluate=lambda m: evaluate(m, subset), on_step=report, **spp.settings)
    path.save(writer.path / "path.safetensors")
    support = path.gamma != 0
    for c, step in enumerate(path.steps):
        rows += _rows(int(step), path.sparsity_of(support[:, c]), "path",
                      {"loss": path.loss[c], "accuracy": path.accuracy[c]})
    model.eval()
    for i, sparsity in enumerate(spp.grid):
        if on_progress:
            on_progress("read-offs", i, len(spp.grid))
        with torch.no_grad(), masked(model, read_off(path, sparsity, spp.budget, prepared.device)):
            rows += _rows(0, sparsity, "readoff", evaluate(model, val))
    timing_batch = val.batch(torch.arange(min(spp.latency_batch, len(val))))
    timing_batch.pop("labels")
    costs, recovered = [], {}
    for sparsity in spp.recover:
        masks = read_off(path, sparsity, spp.budget, prepared.device)
        small = compress(model, masks).eval()
        costs += _cost_rows(model, masks, small, timing_batch, sparsity)
        torch.manual_seed(config.seed)
        stage = f"recover SPP {sparsity:.0%}"
        finetune(small, train, config.finetune, config.seed, description=stage,
                 on_progress=(lambda done, total, s=stage: on_progress(s, done, total)) if on_progress else None)
        recovered[sparsity] = evaluate(small, val)
        rows += _rows(config.finetune.steps, sparsity, "recovered", recovered[sparsity])
        rows += _rows(config.finetune.steps, sparsity, "recovered-test", evaluate(small, test))
    writer.table("metrics", pd.DataFrame(rows, columns=METRIC_COLUMNS))
    writer.table("speed", pd.DataFrame(costs, columns=SPEED_COLUMNS))
    return {"results": {"dense": dense, "recovered": {f"{s:g}": m for s, m in recovered.items()},
                        "structured_params": path.total_params},
            "budget": {"search_steps": spp.steps, "train_steps": config.finetune.steps,
                       "batch_size": config.finetune.batch_size}}


def export_subnetwork(run_path: str | Path, sparsity: float, out: str | Path, budget: str | None = None) -> Path:
    """Write the read-off of an SPP run at `sparsity`: `out`/compressed (model.safetensors and
    prunescope.json, for compress.load_compressed) and `out`/masked (HF save_pretrained)."""
    run = read_run(Path(run_path))
    if not run.is_path or run.status != "done":
        raise ConfigError(f"run: {run_path} is not a finished SPP run (method {run.method}, status {run.status})")
    manifest = run.manifest
    config = config_from_dict({k: v for k, v in manifest["config"].items() if v is not None})
    path = SolutionPath.load(run.path / "path.safetensors")
    try:
        masks = read_off(path, sparsity, budget or config.spp.budget)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    model = load_model(config.model.name, len(manifest["data"]["label_names"]), config.seed, config.model.pooler)
    load_run_weights(model, run.path.parent / manifest["base_run"])
    out = Path(out)
    save_compressed(model.eval(), masks, out / "compressed")
    bake(copy.deepcopy(model), masks).save_pretrained(out / "masked")
    return out
