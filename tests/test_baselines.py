"""GraSP, movement, soft movement and PLATON against hand-written float64 references."""

import math

import pytest
import torch
from torch import nn

from pruning import METHODS, prunable_parameters, score
from pruning.models import load_model
from tests.conftest import tiny_inputs


def _params_with_grads(values: dict[str, list[float]]) -> dict[str, nn.Parameter]:
    return {name: nn.Parameter(torch.tensor(v, dtype=torch.float64)) for name, v in values.items()}


def _feed(scorer, params, gradients: list[dict[str, list[float]]]) -> None:
    for step in gradients:
        for name, g in step.items():
            params[name].grad = torch.tensor(g, dtype=torch.float64)
        scorer.update()


def test_grasp_is_theta_times_hessian_of_mean_gradient_by_finite_differences():
    torch.manual_seed(0)
    model = load_model("tiny-bert", 3).double().eval()
    batches = [tiny_inputs("tiny-bert", seed=s) for s in (1, 2)]
    scores = score("grasp", model, batches)
    params = prunable_parameters(model)

    def mean_gradient():
        loss = sum(model(**b).loss for b in batches) / len(batches)
        return torch.autograd.grad(loss, list(params.values()))

    g = mean_gradient()
    eps = 1e-4
    with torch.no_grad():
        for p, d in zip(params.values(), g, strict=True):
            p.add_(d, alpha=eps)
    plus = mean_gradient()
    with torch.no_grad():
        for p, d in zip(params.values(), g, strict=True):
            p.sub_(d, alpha=2 * eps)
    minus = mean_gradient()
    with torch.no_grad():
        for p, d in zip(params.values(), g, strict=True):
            p.add_(d, alpha=eps)
    for (name, p), hi, lo in zip(params.items(), plus, minus, strict=True):
        expected = p.detach() * (hi - lo) / (2 * eps)
        assert torch.allclose(scores[name], expected, rtol=1e-4, atol=1e-9 * expected.abs().max()), name
    assert any(s.abs().max() > 0 for s in scores.values())


def test_grasp_temperature_changes_the_loss_it_differentiates():
    model = load_model("tiny-bert", 3).double()
    batches = [tiny_inputs("tiny-bert", seed=1)]
    plain, hot = score("grasp", model, batches), score("grasp", model, batches, temperature=200.0)
    assert not torch.allclose(plain["bert.encoder.layer.0.attention.self.query.weight"],
                              hot["bert.encoder.layer.0.attention.self.query.weight"])
    with pytest.raises(ValueError, match="temperature"):
        score("grasp", model, batches, temperature=0.0)


def test_movement_rewards_weights_moving_away_from_zero():
    params = _params_with_grads({"w": [1.0, 1.0, -1.0, -1.0]})
    scorer = METHODS["movement"].make_scorer_for(params)
    _feed(scorer, params, [{"w": [-1.0, 1.0, 1.0, -1.0]}, {"w": [-0.5, 0.5, 0.5, -0.5]}])
    # gradient descent grows |θ| for entries 0 and 2 (S > 0) and shrinks it for 1 and 3 (S < 0)
    assert scorer.scores()["w"].tolist() == [1.5, -1.5, 1.5, -1.5]


def test_platon_matches_its_recurrence():
    beta1, beta2 = 0.85, 0.95
    theta = [0.5, -2.0, 1.0]
    grads = [[0.1, 0.3, -0.2], [0.4, -0.1, 0.0], [-0.2, 0.2, 0.5]]
    params = _params_with_grads({"w": theta})
    scorer = METHODS["platon"].make_scorer_for(params, beta1=beta1, beta2=beta2)
    _feed(scorer, params, [{"w": g} for g in grads])
    expected = []
    for i, t in enumerate(theta):
        mean = unc = 0.0
        for g in grads:
            importance = abs(t * g[i])
            mean = beta1 * mean + (1 - beta1) * importance
            unc = beta2 * unc + (1 - beta2) * abs(importance - mean)
        expected.append(mean * unc)
    assert torch.allclose(scorer.scores()["w"], torch.tensor(expected, dtype=torch.float64), rtol=1e-12)
    scorer.forget({"w": torch.tensor([True, False, True])})
    assert scorer.scores()["w"][1] == 0


def test_soft_movement_matches_adam_on_the_penalised_straight_through_gradient():
    l1, lr, beta1, beta2, eps = 0.3, 0.1, 0.9, 0.999, 1e-8
    theta = [0.5, -2.0, 1.0]
    grads = [[0.1, 0.3, -0.2], [0.4, -0.1, 0.0], [0.0, 0.0, 0.0]]
    params = _params_with_grads({"w": theta})
    scorer = METHODS["soft-movement"].make_scorer_for(params, l1=l1, score_lr=lr, beta1=beta1, beta2=beta2,
                                                      eps=eps)
    _feed(scorer, params, [{"w": g} for g in grads])
    expected = []
    for i, t in enumerate(theta):
        s = m = v = 0.0
        for step, g in enumerate(grads, start=1):
            sigma = 1 / (1 + math.exp(-s))
            r = t * g[i] + l1 * sigma * (1 - sigma)
            m = beta1 * m + (1 - beta1) * r
            v = beta2 * v + (1 - beta2) * r * r
            s -= lr * (m / (1 - beta1**step)) / (math.sqrt(v / (1 - beta2**step)) + eps)
        expected.append(s)
    assert torch.allclose(scorer.scores()["w"], torch.tensor(expected, dtype=torch.float64), rtol=1e-10)


def test_soft_movement_penalty_sinks_weights_without_gradient_signal():
    params = _params_with_grads({"w": [1.0, 1.0]})
    scorer = METHODS["soft-movement"].make_scorer_for(params, l1=1e-3)
    _feed(scorer, params, [{"w": [-1e-2, 0.0]}] * 5)
    moving, idle = scorer.scores()["w"].tolist()
    assert moving > 0 > idle
