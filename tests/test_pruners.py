"""Schedules and the two drivers: exact final sparsity, nested masks (no resurrection), FORCE."""

import itertools

import pytest
import torch

from pruning import METHODS, prunable_parameters
from pruning.data import Encoded
from pruning.masks import get_masks
from pruning.models import load_model
from pruning.pruners import GradualPruning, iterative_prune
from pruning.schedules import cubic_density, exponential_density
from pruning.train import TrainConfig, finetune

from .conftest import tiny_inputs


def test_exponential_schedule():
    assert exponential_density(0, 10, 0.1) == 1.0
    assert exponential_density(10, 10, 0.1) == pytest.approx(0.1)
    assert exponential_density(5, 10, 0.09) == pytest.approx(0.3)


def test_cubic_schedule():
    assert cubic_density(9, 0.2, start=10, duration=20) == 1.0
    assert cubic_density(10, 0.2, 10, 20) == 1.0
    assert cubic_density(20, 0.2, 10, 20) == pytest.approx(0.2 + 0.8 * 0.5**3)
    assert cubic_density(30, 0.2, 10, 20) == 0.2
    densities = [cubic_density(t, 0.2, 10, 20) for t in range(40)]
    assert all(a >= b for a, b in itertools.pairwise(densities))


def _batches():
    return (tiny_inputs("tiny-bert", batch=4, seed=s) for s in itertools.count())


def _kept(masks):
    return sum(int(m.sum()) for m in masks.values()), sum(m.numel() for m in masks.values())


@pytest.mark.parametrize("method", ["seven", "snip"])
def test_iterative_ends_exact_and_never_resurrects(method):
    model = load_model("tiny-bert", 3)
    scorer = METHODS[method].make_scorer(model)
    history = []
    masks = iterative_prune(model, scorer, _batches(), 0.8, 6, on_round=lambda i, m: history.append(m))
    kept, total = _kept(masks)
    assert kept == round(0.2 * total) and len(history) == 6
    for before, after in itertools.pairwise(history):
        assert all((after[n] & ~before[n]).sum() == 0 for n in after)  # nested: only removals
    for i, m in enumerate(history, start=1):
        assert _kept(m)[0] == round(0.2 ** (i / 6) * total)
    for n, p in prunable_parameters(model).items():
        assert not p[~masks[n]].any()
        assert (scorer.scores()[n][~masks[n]] == 0).all()  # pruned state dropped


def test_force_may_resurrect_with_the_original_values():
    model = load_model("tiny-bert", 3)
    original = {n: p.detach().clone() for n, p in prunable_parameters(model).items()}
    history = []
    masks = iterative_prune(model, METHODS["snip"].make_scorer(model), _batches(), 0.9, 8, resurrect=True,
                            on_round=lambda i, m: history.append(m))
    assert _kept(masks)[0] == round(0.1 * _kept(masks)[1])
    resurrected = sum(int((b[n] & ~a[n]).sum()) for a, b in itertools.pairwise(history) for n in a)
    assert resurrected > 0
    for n, p in prunable_parameters(model).items():
        assert torch.equal(p[masks[n]], original[n][masks[n]])


GRADUAL = [name for name, method in METHODS.items() if "gradual" in method.schedules]


@pytest.mark.parametrize("method", GRADUAL)
def test_gradual_follows_the_cubic_schedule_to_exact_sparsity(method):
    model = load_model("tiny-bert", 2)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 5000, (64, 10), generator=g)
    data = Encoded({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids[:, 0] % 2)
    seen, first_scored = [], []

    class Watch(GradualPruning):
        def after_backward(self, state):
            unscored = self.scorer is None
            super().after_backward(state)
            if unscored and self.scorer is not None:
                first_scored.append(state.step)

        def on_step_end(self, state):  # a masking step prunes (SEVEN's pool edits the masks in place)
            before = None if self.masks is None else _kept(self.masks)
            super().on_step_end(state)
            if self.masks is not None and _kept(self.masks) != before:
                seen.append((state.step, _kept(self.masks)[0]))
                history.append({n: m.clone() for n, m in self.masks.items()})

    history = []
    spec = METHODS[method]
    callback = Watch(lambda: spec.make_scorer(model), 0.7, start=3, duration=8, every=2,
                     accumulate_from_start=spec.scores_from_start)
    finetune(model, data, TrainConfig(steps=14, lr=1e-3, batch_size=8, warmup=0.0), seed=0, callbacks=(callback,))
    masks = get_masks(model)
    kept, total = _kept(masks)
    assert kept == round(0.3 * total)
    if spec.needs != "nothing":  # movement and PLATON score from the first step, SEVENdyn from t_i
        assert first_scored == [0 if spec.scores_from_start else 3]
    if method == "seven":
        assert callback.scorer.t == 8  # scored on every step of the window, counter from its start
    assert [s for s, _ in seen] == [3, 5, 7, 9, 10]  # every 2nd step of [3, 11), and its last
    for step, count in seen:
        assert count == round(cubic_density(step + 1, 0.3, 3, 8) * total)
    for before, after in itertools.pairwise(history):
        assert all((after[n] & ~before[n]).sum() == 0 for n in after)
    for n, p in prunable_parameters(model).items():
        assert not p[~masks[n]].any()
