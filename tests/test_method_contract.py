"""The contract every registered method keeps, on every schedule it declares, on every tiny
architecture: finite scores shaped like the weights, exact sparsity in its allocation groups,
pruned weights zero, the model's training mode, gradient flags and hooks restored, kept weights
untouched unless the method declares that it rewrites them, and the same masks twice."""

import copy
import dataclasses
import itertools

import pytest
import torch

from pruning import METHODS, prunable_parameters, weight_table
from pruning.data import Encoded
from pruning.masks import get_masks, n_m
from pruning.methods.base import NEEDS, PRESET_FIELDS
from pruning.options import describe, parse
from pruning.pruners import GradualPruning, iterative_prune
from pruning.train import TrainConfig, finetune

from .conftest import ARCHITECTURES, tiny_inputs

CASES = [(name, variant) for name, method in METHODS.items() for variant in method.variants]


def _sparsity(allocation: str) -> float:
    pattern = n_m(allocation)
    return 1 - pattern[0] / pattern[1] if pattern else 0.6


def _batches(architecture: str):
    return (tiny_inputs(architecture, batch=4, seed=s) for s in itertools.count())


def _train_data(architecture: str) -> Encoded:
    inputs = [tiny_inputs(architecture, batch=16, seed=s) for s in (100, 101)]
    labels = torch.cat([b.pop("labels") for b in inputs])
    return Encoded({k: torch.cat([b[k] for b in inputs]) for k in inputs[0]}, labels)


def _prune(architecture: str, name: str, variant, model) -> tuple[dict, dict]:
    """Prune `model` as the variant says; (masks, scores)."""
    method = METHODS[name]
    allocation, sparsity = variant.allocation or "global", _sparsity(variant.allocation or "global")
    names = {f.name for f in dataclasses.fields(method.hparams)}
    preset = method.presets.get(variant.preset, {}).get(variant.schedule, {})
    hparams = {**{k: v for k, v in preset.items() if k in names}, **variant.hparams}
    torch.manual_seed(0)
    if variant.schedule == "one-shot":
        return method.prune_once(model, itertools.islice(_batches(architecture), 3), sparsity, allocation, **hparams)
    if variant.schedule == "iterative":
        scorer = method.make_scorer(model, **hparams)
        masks = iterative_prune(model, scorer, _batches(architecture), sparsity, 4, allocation, variant.resurrect)
        return masks, scorer.scores()
    callback = GradualPruning(lambda: method.make_scorer(model, **hparams), sparsity, start=1, duration=4, every=1,
                              allocation=allocation, accumulate_from_start=method.scores_from_start)
    finetune(model, _train_data(architecture), TrainConfig(steps=6, lr=1e-3, batch_size=8, warmup=0.0), seed=0,
             callbacks=(callback,))
    return get_masks(model), callback.scorer.scores()


def _groups(weights, masks, allocation):
    """(kept, size) of every allocation group, the unit in which counts are exact."""
    if allocation == "global":
        yield sum(int(m.sum()) for m in masks.values()), sum(m.numel() for m in masks.values())
    elif allocation == "module":
        yield from ((int(m.sum()), m.numel()) for m in masks.values())
    elif allocation == "layer":
        for layer in {w.layer for w in weights.values()}:
            names = [n for n, w in weights.items() if w.layer == layer]
            yield sum(int(masks[n].sum()) for n in names), sum(masks[n].numel() for n in names)
    else:  # row, or N:M groups of consecutive inputs
        size = n_m(allocation)[1] if n_m(allocation) else None
        for name, mask in masks.items():
            rows = mask.t() if weights[name].transposed else mask
            groups = rows.reshape(rows.shape[0], -1, size) if size else rows
            yield from ((int(g.sum()), g.numel()) for g in groups.reshape(-1, groups.shape[-1]))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("name, variant", CASES, ids=[v.label for _, v in CASES])
def test_every_method_keeps_the_contract(architecture, name, variant):
    from pruning.models import load_model

    method = METHODS[name]
    torch.manual_seed(0)
    original = load_model(architecture, 3).train()
    next(iter(original.parameters())).requires_grad_(False)  # a flag the method must leave alone
    model = copy.deepcopy(original)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    masks, scores = _prune(architecture, name, variant, model)

    params, weights = prunable_parameters(model), weight_table(model)
    assert masks.keys() == scores.keys() == params.keys()
    for n, p in params.items():
        assert scores[n].shape == p.shape and torch.isfinite(scores[n]).all(), n
        assert masks[n].dtype == torch.bool and not p[~masks[n]].any(), n
    allocation = variant.allocation or "global"
    for kept, size in _groups(weights, masks, allocation):
        assert kept == round((1 - _sparsity(allocation)) * size)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())
    if variant.schedule != "gradual":  # fine-tuning owns the mode and moves the weights
        assert model.training
        before = prunable_parameters(original)
        unchanged = all(torch.equal(p[masks[n]], before[n][masks[n]]) for n, p in params.items())
        assert unchanged != method.rewrites_weights

    again = copy.deepcopy(original)
    masks_again, _ = _prune(architecture, name, variant, again)
    assert all(torch.equal(masks[n], masks_again[n]) for n in masks)


@pytest.mark.parametrize("name", METHODS)
def test_every_declaration_is_complete_and_its_defaults_obey_their_own_rules(name):
    method = METHODS[name]
    assert method.needs in NEEDS and method.variants and method.summary
    labels = [v.label for m in METHODS.values() for v in m.variants]
    assert len(labels) == len(set(labels))  # a label selects one variant
    for variant in method.variants:
        assert variant.color.startswith("#") and len(variant.color) == 7
        assert variant.allocation in (None, *method.allocations)
        assert variant.preset == "" or variant.schedule in method.presets[variant.preset]
        parse(method.hparams, variant.hparams, "prune.hparams")
    names = {f.name for f in dataclasses.fields(method.hparams)}
    for by_schedule in method.presets.values():
        assert set(by_schedule) <= set(method.schedules)
        for values in by_schedule.values():  # a preset sets hyperparameters and the gradual window only
            assert set(values) <= names | set(PRESET_FIELDS)
            parse(method.hparams, {k: v for k, v in values.items() if k in names}, "prune.hparams")
    defaults = parse(method.hparams, {}, "prune.hparams")
    rows = describe(method.hparams)
    assert all(r["help"] for r in rows)
    assert parse(method.hparams, {r["name"]: r["default"] for r in rows}, "prune.hparams") == defaults
    assert dataclasses.is_dataclass(method.hparams)
    module = (method.scorer or method.one_shot).__module__
    assert module == f"pruning.methods.{name.replace('-', '_')}"  # one method, one file


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if m.needs == "nothing"])
def test_data_free_methods_read_no_batch(name):
    from pruning.models import load_model

    model = load_model("tiny-bert", 3)
    consumed = []

    def batches():
        for batch in _batches("tiny-bert"):
            consumed.append(1)
            yield batch

    METHODS[name].prune_once(model, batches(), 0.5)
    assert not consumed
