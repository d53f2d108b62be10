"""An SPP run: dense weights -> solution path -> read-offs, with and without recovery, and costs.

    path.safetensors   the SolutionPath (analysis/solution_path.py)
    metrics.parquet    split "dense" (sparsity 0), "path" (each checkpoint: support of Γ on the
                       fixed validation subset), "readoff" (every grid sparsity, no recovery),
                       "recovered" and "recovered-test" (the recover sparsities, after [finetune])
    manifest timings   seconds of the search (without the checkpoint evaluations: "path
                       evaluation"), of all read-offs and their evaluations, the speed table and
                       all recoveries
    speed.parquet      per recover sparsity: params, FLOPs per example and latency (on the run's device) of the
                       dense, masked and compressed models, and on CPU of the dense and compressed
                       models in onnxruntime
"""

import copy
import tempfile
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from analysis.solution_path import SolutionPath
from analysis.store import METRIC_COLUMNS, SPEED_COLUMNS, RunWriter, read_run

from .checkpoint import Checkpoints
from .compress import bake, compress, save_compressed
from .config import ConfigError, config_from_dict
from .cost import flops_per_example, latencies_ms, parameters
from .models import load_model, load_run_weights
from .onnx_export import OnnxClassifier, example_batch, export_onnx
from .stopwatch import Stopwatch
from .structured import masked, read_off
from .structured_methods import STRUCTURED_METHODS
from .train import endless_batches, evaluate, finetune


def _rows(step: int, sparsity: float, split: str, metrics: dict) -> list[dict]:
    return [dict(step=step, sparsity=sparsity, split=split, metric=k, value=float(v)) for k, v in metrics.items()]


def _cost_rows(model, masks, small, batch: dict, sparsity: float, onnx_dir: Path | None) -> list[dict]:
    """Params, FLOPs per example and latency of the dense, masked and compressed models, and,
    with `onnx_dir` (CPU runs), of the dense and compressed models exported to onnxruntime."""
    def masked_forward(b):
        with masked(model, masks):
            return model(**b)

    forwards = {"dense": lambda b: model(**b), "masked": masked_forward, "compressed": lambda b: small(**b)}
    stored = {"dense": parameters(model), "masked": parameters(model), "compressed": parameters(small)}
    flops = {name: flops_per_example(forward, batch) for name, forward in forwards.items()}
    timing = latencies_ms(forwards, batch)
    if onnx_dir is not None:  # timed apart: one runtime's thread pool never slows the other's rounds
        sessions = {}
        for name, torch_model in (("dense", model), ("compressed", small)):
            file = onnx_dir / ("dense.onnx" if name == "dense" else f"compressed-{sparsity:g}.onnx")
            exported = file if file.exists() else export_onnx(torch_model, batch, file)
            sessions[f"{name} onnxruntime"] = OnnxClassifier(exported).logits
            stored[f"{name} onnxruntime"], flops[f"{name} onnxruntime"] = stored[name], flops[name]
        timing |= latencies_ms(sessions, batch)
    return [dict(sparsity=sparsity, model=name, params=stored[name], flops=flops[name], latency_ms=ms)
            for name, ms in timing.items()]


def compute_spp(prepared, writer: RunWriter, on_progress=None, checkpoints: Checkpoints | None = None) -> dict:
    """Search, read off, recover and measure; write the artifacts of the module docstring. With
    `checkpoints`, the search and each recovery continue from their last save."""
    config, model = prepared.config, prepared.model
    spp = config.spp
    train, val, test = (prepared.encoded[p] for p in ("train", "validation", "test"))
    subset = val.head(spp.eval_size)
    dense = evaluate(model, val)
    rows = _rows(0, 0.0, "dense", dense)
    batches = endless_batches(train, config.finetune.batch_size, config.seed)
    stage, clock = f"{spp.method} search", Stopwatch()

    def evaluate_support(m) -> dict:
        with clock.stage("path evaluation"):
            return evaluate(m, subset)

    with tqdm(total=spp.steps, desc=stage, unit="step") as bar, clock.stage("search"):
        def report(k: int, total: int) -> None:
            bar.update(k - bar.n)
            if on_progress:
                on_progress(stage, k, total)

        path = STRUCTURED_METHODS[spp.method].run(
            model, batches, config.seed, spp.score_batches, asdict(spp), evaluate=evaluate_support, on_step=report,
            checkpoint=checkpoints.stage("search") if checkpoints else None)
    clock["search"] = round(clock["search"] - clock.get("path evaluation", 0.0), 2)
    path.save(writer.path / "path.safetensors")
    support = path.gamma != 0
    for c, step in enumerate(path.steps):
        rows += _rows(int(step), path.sparsity_of(support[:, c]), "path",
                      {"loss": path.loss[c], "accuracy": path.accuracy[c]})
    model.eval()
    for i, sparsity in enumerate(spp.grid):
        if on_progress:
            on_progress("read-offs", i, len(spp.grid))
        with torch.no_grad(), clock.stage("read-off"):
            masks = read_off(path, sparsity, spp.budget, prepared.device)
        with torch.no_grad(), masked(model, masks), clock.stage("read-off evaluation"):
            rows += _rows(0, sparsity, "readoff", evaluate(model, val))
    timing_batch = val.batch(torch.arange(min(spp.latency_batch, len(val))))
    timing_batch.pop("labels")
    costs, recovered = [], {}
    with tempfile.TemporaryDirectory() as exports:  # the onnxruntime exports (CPU only) are temporary
        for sparsity in spp.recover:
            masks = read_off(path, sparsity, spp.budget, prepared.device)
            small = compress(model, masks).eval()
            with clock.stage("speed"):
                costs += _cost_rows(model, masks, small, timing_batch, sparsity,
                                    Path(exports) if prepared.device.type == "cpu" else None)
            torch.manual_seed(config.seed)
            stage = f"recover {spp.method} {sparsity:.0%}"
            progress = (lambda done, total, loss, s=stage: on_progress(s, done, total, loss)) if on_progress else None
            with clock.stage("recover"):
                finetune(small, train, config.finetune, config.seed, description=stage, on_progress=progress,
                         checkpoint=checkpoints.stage(f"recover-{sparsity:g}") if checkpoints else None)
            recovered[sparsity] = evaluate(small, val)
            rows += _rows(config.finetune.steps, sparsity, "recovered", recovered[sparsity])
            rows += _rows(config.finetune.steps, sparsity, "recovered-test", evaluate(small, test))
    writer.table("metrics", pd.DataFrame(rows, columns=METRIC_COLUMNS))
    writer.table("speed", pd.DataFrame(costs, columns=SPEED_COLUMNS))
    search_steps = int(path.steps[-1]) if len(path.steps) else 0
    return {"results": {"dense": dense, "recovered": {f"{s:g}": m for s, m in recovered.items()},
                        "structured_params": path.total_params},
            "budget": {"search_steps": search_steps, "train_steps": config.finetune.steps,
                       "batch_size": config.finetune.batch_size},
            "timings": clock}


def export_subnetwork(run_path: str | Path, sparsity: float, out: str | Path, budget: str | None = None) -> Path:
    """Write the read-off of a structured run at `sparsity`: `out`/compressed (model.safetensors and
    prunescope.json, for compress.load_compressed), `out`/compressed.onnx (for onnxruntime:
    logits from the model's inputs, batch and length dynamic) and `out`/masked (HF save_pretrained)."""
    run = read_run(Path(run_path))
    if not run.is_path or run.status != "done":
        raise ConfigError(f"run: {run_path} is not a finished SPP run (method {run.method}, status {run.status})")
    manifest = run.manifest
    config = config_from_dict(manifest["config"])
    path = SolutionPath.load(run.path / "path.safetensors")
    try:
        masks = read_off(path, sparsity, budget or config.spp.budget)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    model = load_model(config.model.name, len(manifest["data"]["label_names"]), config.seed, config.model.pooler)
    load_run_weights(model, run.path.parent / manifest["base_run"])
    out = Path(out)
    save_compressed(model.eval(), masks, out / "compressed")
    export_onnx(compress(model, masks), example_batch(model), out / "compressed.onnx")
    bake(copy.deepcopy(model), masks).save_pretrained(out / "masked")
    return out
