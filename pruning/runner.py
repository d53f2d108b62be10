"""Execute one run config end to end and write it to the run store.

dense run:  load -> evaluate -> fine-tune ([dense]) -> evaluate -> save weights
pruned run: dense run (found or made) -> score -> masks -> evaluate -> recover ([finetune])
            -> evaluate
SPP run:    dense run (found or made) -> solution path -> read-offs (spp_run.py)
Everything that can fail on bad input (config, data, model) is loaded before the run's
directory is created; a run found done under its run_id is returned as it is.
"""

import itertools
import os
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import transformers
from safetensors.torch import save_model as save_weights

from analysis.store import RunWriter, read_run, run_lock, runs_root
from analysis.weight_histograms import weight_histograms

from . import __version__, distributed
from .architectures import HEAD_ROLES, prunable_parameters, prunable_weights
from .checkpoint import Checkpoints
from .config import ConfigError, RunConfig
from .data import Encoded, Splits, encode_images, encode_texts, load_examples, split
from .devices import describe, resolve_device
from .gradstats import StepNoise
from .masks import Scores, get_masks
from .methods import METHODS
from .models import is_image_model, load_model, load_run_weights, load_tokenizer
from .probe import probe, probe_gradients, snip_reference
from .pruners import GradualPruning, iterative_prune
from .sensitivity import compute_sensitivity
from .spp_run import compute_spp
from .stopwatch import Stopwatch
from .structured import structured_blocks
from .structured_methods import STRUCTURED_METHODS
from .train import endless_batches, evaluate, finetune

Progress = Callable[..., None]
"""on_progress(stage, done, total, loss=None): loss is the training loss of fine-tuning steps"""


def cache_dir() -> Path:
    """Where tokenised data sets are cached ($PRUNESCOPE_CACHE, else ~/.cache/prunescope)."""
    return Path(os.environ.get("PRUNESCOPE_CACHE", Path.home() / ".cache" / "prunescope"))


@dataclass
class Prepared:
    """A run's inputs, loaded and checked before anything is written."""

    config: RunConfig
    splits: Splits
    encoded: dict[str, Encoded]
    model: torch.nn.Module
    base: Path | None
    device: torch.device


def prepare(config: RunConfig, base: Path | None = None, device: torch.device | None = None) -> Prepared:
    """Load the data and the model of `config` (from the dense run's weights when it saved any)
    onto `device` (default: the CPU)."""
    device = device or torch.device("cpu")
    try:
        examples = load_examples(config.data.name, config.data.text_column, config.data.label_column)
        splits = split(examples, config.data.split_seed, config.data.val_fraction,
                       config.data.test_fraction, config.data.max_train, config.data.max_eval)
    except FileNotFoundError as error:
        raise ConfigError(f"data.name: {error}") from None
    except ValueError as error:
        raise ConfigError(str(error)) from None
    try:
        image = is_image_model(config.model.name)
        tokenizer = None if image else load_tokenizer(config.model.name)
        model = load_model(config.model.name, len(examples.label_names), config.seed, config.model.pooler)
    except OSError as error:
        raise ConfigError(
            f"model.name: cannot load {config.model.name!r} ({error}); use minilm, "
            "tiny-bert|vit|clip|gpt2|llama, a local path or an HF id already in the cache"
        ) from None
    if image != examples.is_image:
        kind = "an image" if image else "a text"
        raise ConfigError(f"model.name: {config.model.name} is {kind} model but data.name "
                          f"{config.data.name} holds {'text' if image else 'images'}")
    load_run_weights(model, base)
    encoded = {
        part: (encode_images(ex) if image else encode_texts(ex, tokenizer, config.model.max_length,
                                                            cache_dir() / "tokens")).to(device)
        for part, ex in splits.parts().items()
    }
    return Prepared(config, splits, encoded, model.to(device), base, device)


PROBE_CACHE_BYTES = 2 << 30
"""A dense run's probe gradients are kept in memory for the next run pruned from it (a sweep's
runs follow one another) when they take at most this much; larger models recompute them."""
_DENSE_PROBE: dict = {}


def _dense_probe(prepared: Prepared, batch_size: int) -> tuple[torch.nn.Module, Iterable[dict]]:
    """The dense model a run was pruned from and its probe gradients, from the cache when the
    previous run read the same ones (identical values: the same weights and batches)."""
    config = prepared.config
    key = (str(prepared.base), config.probe.batches, batch_size, config.data.split_seed, str(prepared.device))
    if _DENSE_PROBE.get("key") == key:
        return _DENSE_PROBE["model"], _DENSE_PROBE["gradients"]
    _DENSE_PROBE.clear()
    model = load_model(config.model.name, len(prepared.splits.train.label_names), config.seed, config.model.pooler)
    load_run_weights(model, prepared.base)
    model.to(prepared.device)
    gradients = probe_gradients(model, prepared.encoded["train"], config.probe.batches, batch_size,
                                config.data.split_seed)
    size = config.probe.batches * sum(p.numel() * p.element_size() for p in prunable_parameters(model).values())
    if size <= PROBE_CACHE_BYTES:
        gradients = list(gradients)
        _DENSE_PROBE.update(key=key, model=model, gradients=gradients)
    return model, gradients


def _probe(prepared: Prepared, model: torch.nn.Module, masks: dict[str, torch.Tensor] | None, writer: RunWriter,
           on_progress: Progress | None) -> pd.DataFrame:
    """The noise probe at the weights the run was pruned from (a dense run: its own); returns
    its gradient SNR and noise scale table."""
    config = prepared.config
    prune = config.prune
    batch_size = (config.finetune if prune else config.dense).batch_size
    if on_progress:
        on_progress("noise probe", 0, config.probe.batches)
    if prune is not None:
        model, gradients = _dense_probe(prepared, batch_size)
        snip = snip_reference(model, list(itertools.islice(_scoring_stream(prepared), prune.score_batches)))
    else:
        gradients = probe_gradients(model, prepared.encoded["train"], config.probe.batches, batch_size,
                                    config.data.split_seed)
        snip = None
    result = probe(
        model, gradients, masks, batch_size=batch_size, snip=snip, sparsity=config.sparsity,
        allocation=prune.allocation if prune else "global", snr_threshold=config.probe.snr_threshold,
        sample_size=config.probe.sample_size, sample_seed=config.seed,
    )
    for name in ("rgv", "histograms", "sample", "sentinels"):
        writer.table(name, getattr(result, name))
    return result.noise


def _scoring_stream(prepared: Prepared):
    """The batches a pruned run scores on; the probe's SNIP reference reads the same ones."""
    config = prepared.config
    return endless_batches(prepared.encoded["train"], config.finetune.batch_size, config.seed)


def _metric_rows(step: int, sparsity: float, split_name: str, metrics: dict) -> list[dict]:
    return [dict(step=step, sparsity=sparsity, split=split_name, metric=k, value=float(v))
            for k, v in metrics.items()]


def layer_table(model: torch.nn.Module, changes: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per prunable weight: block, role, shape, non-zeros and sparsity as they are now,
    and how much pruning changed the kept weights (`kept_change`, 0 where it left them)."""
    rows = []
    for w in prunable_weights(model):
        param = w.module.get_parameter(w.name.rpartition(".")[2])
        nonzero = int(param.count_nonzero())
        rows.append(dict(name=w.name, layer=w.table_layer, module=w.role,
                         rows=param.shape[0], cols=param.numel() // param.shape[0], numel=param.numel(),
                         nonzero=nonzero, sparsity=1 - nonzero / param.numel(),
                         kept_change=(changes or {}).get(w.name, 0.0)))
    return pd.DataFrame(rows)


@torch.no_grad()
def kept_change(before: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, float]:
    """Per weight ‖(W' − W) ⊙ M‖_F / ‖W ⊙ M‖_F over the kept entries M (W' ≠ 0 there): how far
    pruning moved the weights it kept (SparseGPT's reconstruction; 0 for score-and-mask methods)."""
    change = {}
    for name, after in prunable_parameters(model).items():
        kept = after != 0
        reference = float(before[name][kept].norm()) or 1.0
        change[name] = float((after - before[name])[kept].norm()) / reference
    return change


def _method_fields(config: RunConfig) -> dict:
    """What the manifest records about the method: its colour and, for [prune], its resolved
    hyperparameters and gradual window; for [spp], whether one search serves one target."""
    if config.spp is not None:
        structured = STRUCTURED_METHODS[config.spp.method]
        return {"method_color": structured.color, "per_target": structured.per_target}
    prune = config.prune
    if prune is None:
        return {}
    variant = prune.variant(config.seed)
    return {
        "hparams": prune.resolved_hparams(config.seed), "rewrites_weights": METHODS[prune.method].rewrites_weights,
        "method_color": variant.color if variant else None,
        **({"window": {"start": prune.window(config.finetune.steps)[0],
                       "duration": prune.window(config.finetune.steps)[1], "every": prune.resolved_every}}
           if prune.resolved_schedule == "gradual" else {}),
    }


def _manifest(prepared: Prepared) -> dict:
    config = prepared.config
    method = _method_fields(config)
    return {
        "method": config.method, "method_label": config.label, **method, "sparsity": config.sparsity,
        "seed": config.seed, "config": asdict(config), "model": config.model.name, "data": {
            "name": config.data.name, "hash": prepared.splits.digest(),
            "sizes": {k: len(v) for k, v in prepared.splits.parts().items()},
            "label_names": prepared.splits.train.label_names,
        },
        "base_run": prepared.base.name if prepared.base else None,
        "head": getattr(prepared.model.config, HEAD_ROLES, []),
        "versions": {
            "prunescope": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__,
        },
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads(),
                    "processes": distributed.world(),
                    **describe(prepared.device)},
    }


class _Counted:
    """An iterator that counts what it hands out (the scoring batches a run really read)."""

    def __init__(self, items):
        self.items, self.count = items, 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self.items)
        self.count += 1
        return item


def _prune(prepared: Prepared, batches: _Counted,
           on_progress: Progress | None) -> tuple[Scores | None, GradualPruning | None]:
    """Prune before fine-tuning (one-shot, iterative: returns the scores the masks were chosen
    by), or return the callback that prunes during it."""
    config, model = prepared.config, prepared.model
    prune = config.prune
    method = METHODS[prune.method]
    hparams = prune.resolved_hparams(config.seed)
    schedule = prune.resolved_schedule
    if schedule == "gradual":
        start, duration = prune.window(config.finetune.steps)
        return None, GradualPruning(lambda: method.make_scorer(model, **hparams), prune.sparsity, start,
                                    duration, prune.resolved_every, prune.allocation, method.scores_from_start)
    if schedule == "one-shot":
        _, scores = method.prune_once(model, itertools.islice(batches, prune.score_batches), prune.sparsity,
                                      prune.allocation, **hparams)
        return scores, None
    scorer = method.make_scorer(model, **hparams)
    stage = f"score {config.label} {prune.sparsity:.0%}"
    report = (lambda i, _: on_progress(stage, i, prune.iterations)) if on_progress else None
    iterative_prune(model, scorer, batches, prune.sparsity, prune.iterations, prune.allocation,
                    prune.resurrect, on_round=report)
    return scorer.scores(), None


def dense_weights(config: RunConfig, num_labels: int, base: Path | None) -> tuple[dict[str, np.ndarray], dict]:
    """The prunable weights of the dense run `base` a run was pruned from, read from its folder, and
    where each lies (name -> (layer, module))."""
    model = load_model(config.model.name, num_labels, config.seed, config.model.pooler)
    load_run_weights(model, base)
    weights = {name: p.detach().numpy() for name, p in prunable_parameters(model).items()}
    return weights, {w.name: (w.table_layer, w.role) for w in prunable_weights(model)}


def _relative_half(scores: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Scores as float16 of score / max|score| per tensor: ranks within a tensor, 2 bytes each."""
    out = {}
    for name, s in scores.items():
        top = float(s.abs().max()) or 1.0
        out[name] = (s.float() / top).cpu().numpy().astype(np.float16)
    return out


def _compute(prepared: Prepared, writer: RunWriter, on_progress: Progress | None,
             checkpoints: Checkpoints | None = None) -> dict:
    config, model = prepared.config, prepared.model
    val, test = prepared.encoded["validation"], prepared.encoded["test"]
    rows: list[dict] = []
    sparsity = config.sparsity
    scores, callback, change = None, None, None
    clock = Stopwatch()
    scoring = _Counted(_scoring_stream(prepared))
    if config.prune is not None:
        with clock.stage("prune"):
            before = {n: p.detach().clone() for n, p in prunable_parameters(model).items()}
            scores, callback = _prune(prepared, scoring, on_progress)
            change = None if callback else kept_change(before, model)
            del before
        train_config, stage = config.finetune, f"{'prune' if callback else 'recover'} {config.label} {sparsity:.0%}"
    else:
        train_config, stage = config.dense, "fine-tune dense"
    with clock.stage("evaluate"):
        initial = evaluate(model, val)
    rows += _metric_rows(0, sparsity, "validation", initial)
    torch.manual_seed(config.seed)
    noise = StepNoise(prunable_weights(model))
    with clock.stage("fine-tune"):
        history = finetune(
            model, prepared.encoded["train"], train_config, config.seed,
            evaluate_fn=lambda m: evaluate(m, val), description=stage,
            callbacks=(*([callback] if callback else []), noise),
            on_progress=(lambda done, total, loss: on_progress(stage, done, total, loss)) if on_progress else None,
            checkpoint=checkpoints.stage("fine-tune") if checkpoints else None,
        )
    for step, metrics in history.evaluations:
        rows += _metric_rows(step, sparsity, "validation", metrics)
    rows += [dict(step=i + 1, sparsity=sparsity, split="train", metric="loss", value=v)
             for i, v in enumerate(history.train_loss)]
    final_val = history.evaluations[-1][1] if history.evaluations else initial
    with clock.stage("evaluate"):
        final_test = evaluate(model, test)
    rows += _metric_rows(train_config.steps, sparsity, "test", final_test)
    writer.table("metrics", pd.DataFrame(rows, columns=["step", "sparsity", "split", "metric", "value"]))
    masks = get_masks(model)
    if config.prune is not None:
        writer.tensors("masks", {n: m.cpu().numpy() for n, m in masks.items()})
        relative = _relative_half(scores if callback is None else callback.scorer.scores())
        writer.tensors("scores", relative)
        dense, where = dense_weights(config, len(prepared.splits.train.label_names), prepared.base)
        writer.table("weight_histograms", weight_histograms(dense, {n: m.cpu().numpy() for n, m in masks.items()},
                                                            relative, where))
    writer.table("finetune_rgv", noise.rgv_table())
    noise_scale = [noise.noise(train_config.batch_size)]
    if config.probe.batches:
        with clock.stage("probe"):
            noise_scale.insert(0, _probe(prepared, model, masks, writer, on_progress))
    writer.table("noise_scale", pd.concat(noise_scale, ignore_index=True))
    layers = layer_table(model, change)
    writer.table("layers", layers)
    if config.prune is None and train_config.steps > 0:
        save_weights(model, str(writer.path / "model.safetensors"))
    kept = int(layers["nonzero"].sum())
    budget = {"scoring_batches": scoring.count, "train_steps": train_config.steps,
              "batch_size": train_config.batch_size}
    if callback is not None:  # pruning during fine-tuning: the steps it prunes over
        budget["prune_window"] = [callback.start, callback.end]
    return {"results": {"validation": final_val, "test": final_test,
                        "kept_weights": kept, "prunable_weights": int(layers["numel"].sum())}, "budget": budget,
            "timings": clock}


def _check_model_fits(config: RunConfig) -> None:
    """Refuse, before the dense run is computed (minutes to hours), what the model cannot do: a
    model type without a block layout (structured runs: without attention blocks), a max_length
    beyond its position embeddings, and a method that reads layer inputs on a model whose
    prunable layers are not linear (the calibration reads linear inputs only)."""
    try:
        model = load_model(config.model.name, 2, config.seed, config.model.pooler)
    except OSError:
        return  # prepare names an unloadable model
    try:
        weights = prunable_weights(model)
        if config.spp is not None:
            structured_blocks(model)
    except ValueError as error:
        raise ConfigError(f"model.name: {config.model.name}: {error}") from None
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and config.model.max_length > limit:
        raise ConfigError(f"model.max_length: {config.model.max_length} is not allowed; must be <= {limit}, "
                          f"the positions {config.model.name} embeds")
    if config.prune is None or METHODS[config.prune.method].needs != "activations":
        return
    others = sorted({type(w.module).__name__ for w in weights} - {"Linear", "Conv1D"})
    if others:
        raise ConfigError(f"prune.method: {config.prune.method} reads the inputs of linear layers; "
                          f"{config.model.name} prunes {', '.join(others)} layers")


def run_title(config: RunConfig) -> str:
    """A run as progress shows it: its label and sparsity ("path" for a structured run)."""
    return f"{config.label} {'path' if config.sparsity is None else f'{config.sparsity:.0%}'}"


def _found(config: RunConfig, target: Path) -> bool:
    """`config`'s run is done at `target`, with everything a later run reads from it."""
    return target.exists() and read_run(target).status == "done" and not _needs_weights(config, target)


def _needs_weights(config: RunConfig, path: Path) -> bool:
    """A dense run that fine-tuned but holds no weights (a shipped one: bundles carry tables
    only) cannot be pruned from: it is computed again, the same run by its config."""
    return config.is_dense and config.dense.steps > 0 and not (path / "model.safetensors").exists()


def execute(config: RunConfig, root: str | Path | None = None, on_progress: Progress | None = None,
            device: str = "cpu", checkpoint_every: int = 0, resume: bool = False) -> Path:
    """Run `config` (its dense run first when pruning) on `device` (pruning.devices) unless it
    is already done; return its path. Its fine-tuning, search and recoveries save a checkpoint
    every `checkpoint_every` steps (0: never); `resume` continues them from their last one."""
    where = resolve_device(device)
    distributed.init(where)
    root = runs_root(root)
    target = root / config.run_id
    if distributed.agree(_found(config, target)):  # under torchrun, rank 0's runs folder decides
        return target
    _check_model_fits(config)
    base = None if config.is_dense else execute(config.dense_config(), root, on_progress, device,
                                                checkpoint_every, resume)
    writes = root if distributed.is_writer() else distributed.private_root()
    with run_lock(writes, config.run_id):  # another process computing it: wait, then find it done
        if distributed.agree(_found(config, target)):  # finished by the process that held the lock
            return target
        prepared = prepare(config, base, where)
        checkpoints = Checkpoints(root, config.run_id, checkpoint_every, resume)
        writer = RunWriter(writes, config.run_id, _manifest(prepared))
        try:
            compute = compute_spp if config.spp else compute_sensitivity if config.sensitivity else _compute
            fields = compute(prepared, writer, on_progress, checkpoints)
        except Exception as error:
            writer.finish("failed", error=f"{type(error).__name__}: {error}")
            raise
        except BaseException:
            writer.discard()
            raise
        if checkpoints.resumed:
            fields["resumed"] = checkpoints.resumed
        path = writer.finish("done", replace=_needs_weights(config, target), **fields)
        checkpoints.clear()
        return path
