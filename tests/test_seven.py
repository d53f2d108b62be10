"""SEVEN against a hand-written reference, its sentinel property, and SNIP as the noise-blind baseline."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pruning import METHODS, prunable_parameters, score
from pruning.methods.base import backward_on
from pruning.models import load_model

from .conftest import tiny_inputs


def _reference_seven(weights, grads, beta1, beta2, eps, variant, correction="both"):
    """The formula of docs/ALGORITHMS.md, written out element by element in float64."""
    out = torch.zeros(weights.numel(), dtype=torch.float64)
    flat_w = weights.double().flatten()
    for i in range(weights.numel()):
        m = v = s = 0.0
        for t, g in enumerate(grads, start=1):
            gi = float(g.flatten()[i])
            a = abs(gi) if variant == "abs" else gi
            m = beta1 * m + (1 - beta1) * a
            v = beta2 * v + (1 - beta2) * a * a
            first, second = m / (1 - beta1**t), 1 / (math.sqrt(v / (1 - beta2**t)) + eps)
            c = {"both": first * second, "first": first, "second": second}[correction]
            s += abs(float(flat_w[i]) * c * gi)
        out[i] = s
    return out.view(weights.shape)


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("variant", ["abs", "signed"])
def test_seven_score_matches_the_hand_written_formula_on_a_tiny_model(variant, foreach):
    model = load_model("tiny-bert", 3).eval()
    batches = [tiny_inputs("tiny-bert", batch=4, seed=s) for s in range(4)]
    name = "bert.encoder.layer.1.attention.self.value.weight"
    param = prunable_parameters(model)[name]
    grads = []
    for batch in batches:  # the reference's gradients, taken the same way
        backward_on(model, batch)
        grads.append(param.grad[:3, :4].clone())
    got = score("seven", model, batches, beta1=0.5, beta2=0.7, eps=1e-9, variant=variant, foreach=foreach)[name]
    expected = _reference_seven(param.detach()[:3, :4], grads, 0.5, 0.7, 1e-9, variant)
    torch.testing.assert_close(got[:3, :4].double(), expected, rtol=1e-4, atol=1e-12)
    assert model.training is False and all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("correction", ["first", "second"])
def test_seven_ablations_of_the_correction_match_the_formula(correction):
    model = load_model("tiny-bert", 3).eval()
    batches = [tiny_inputs("tiny-bert", batch=4, seed=s) for s in range(3)]
    name = "bert.encoder.layer.0.intermediate.dense.weight"
    param = prunable_parameters(model)[name]
    grads = []
    for batch in batches:
        backward_on(model, batch)
        grads.append(param.grad[:2, :5].clone())
    got = score("seven", model, batches, beta1=0.8, beta2=0.9, correction=correction)[name]
    expected = _reference_seven(param.detach()[:2, :5], grads, 0.8, 0.9, 1e-9, "abs", correction)
    torch.testing.assert_close(got[:2, :5].double(), expected, rtol=1e-4, atol=1e-12)


def test_snip_is_the_mean_saliency():
    model = load_model("tiny-bert", 3)
    batches = [tiny_inputs("tiny-bert", seed=s) for s in range(3)]
    params = prunable_parameters(model)
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    model.eval()
    for batch in batches:
        backward_on(model, batch)
        for n, p in params.items():
            total[n] += (p * p.grad).abs().detach()
    got = score("snip", model, batches)
    for n in params:
        torch.testing.assert_close(got[n], total[n] / 3)


def _feed(scorer, params, stream):
    for grads in stream:
        for p, g in zip(params.values(), grads, strict=True):
            p.grad = g
        scorer.update()
    return scorer.scores()


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(4, 30).map(lambda n: 2 * n), spread=st.floats(0.5, 1.0), seed=st.integers(0, 1000),
       variant=st.sampled_from(["abs", "signed"]))
def test_steady_weights_outrank_noisy_ones_with_equal_mean_saliency(steps, spread, seed, variant):
    """Group A's gradient is steady; group B's swings around it (abs: its size, signed: its sign)
    so that mean |θ⊙g| is exactly equal: SNIP cannot tell them apart, SEVEN keeps the steady."""
    g = torch.Generator().manual_seed(seed)
    n = 16
    params = {"w": torch.nn.Parameter(torch.rand(2 * n, generator=g) + 0.5)}
    params["w"].data[n:] = params["w"].data[:n]  # same weights in both groups
    base = torch.rand(n, generator=g) + 0.5
    stream = []
    for t in range(steps):
        swing = 1 + spread if t % 2 == 0 else 1 - spread
        noisy = base * swing if variant == "abs" else base * (1 if t % 2 == 0 else -1)
        stream.append([torch.cat([base, noisy])])
    snip = _feed(METHODS["snip"].make_scorer_for(params), params, stream)["w"]
    seven = _feed(METHODS["seven"].make_scorer_for(params, beta1=0.8, beta2=0.9, variant=variant), params, stream)["w"]
    torch.testing.assert_close(snip[:n], snip[n:])  # noise-blind: a tie
    assert (seven[:n] > seven[n:]).all()


def test_bad_seven_hyperparameters_are_named():
    model = load_model("tiny-bert", 3)
    with pytest.raises(ValueError, match=r"variant: 'sign' is not allowed; must be one of abs, signed"):
        score("seven", model, [], variant="sign")
    with pytest.raises(ValueError, match=r"beta1: 1.0 is not allowed; must be in \[0, 1\)"):
        score("seven", model, [], beta1=1.0)
