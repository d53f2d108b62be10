"""The fine-tune loop: schedule, learning, evaluation cadence, callbacks, determinism."""

import math

import pytest
import torch

from pruning.data import Encoded
from pruning.models import load_model
from pruning.train import Callback, TrainConfig, evaluate, finetune, lr_factor


def _parity_data(n=96, seed=0) -> Encoded:
    """Label = whether token 1000 appears: a pattern a tiny BERT learns in a few dozen steps."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2000, 3000, (n, 8), generator=g)
    labels = torch.randint(0, 2, (n,), generator=g)
    ids[labels == 1, 3] = 1000
    return Encoded({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, labels)


def test_warmup_then_linear_and_cosine_decay():
    assert lr_factor(0, 10, 0.2, "linear") == pytest.approx(0.5)
    assert lr_factor(1, 10, 0.2, "linear") == pytest.approx(1.0)
    assert lr_factor(2, 10, 0.2, "linear") == pytest.approx(1.0)
    assert lr_factor(6, 10, 0.2, "linear") == pytest.approx(0.5)
    assert lr_factor(6, 10, 0.2, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(9, 10, 0.0, "constant") == 1.0


class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_start(self, state):
        self.events.append(("start", state.step))

    def after_backward(self, state):
        grads = [p.grad for p in state.model.parameters() if p.grad is not None]
        self.events.append(("backward", state.step, bool(grads)))

    def on_step_end(self, state):
        self.events.append(("end", state.step))


def test_learns_evaluates_on_cadence_and_calls_callbacks_in_order():
    torch.manual_seed(0)
    model = load_model("tiny-bert", 2)
    data = _parity_data()
    before = evaluate(model, data)
    recorder = _Recorder()
    config = TrainConfig(steps=40, lr=3e-3, batch_size=16, eval_every=15, warmup=0.1)
    history = finetune(model, data, config, seed=0, evaluate_fn=lambda m: evaluate(m, data),
                       callbacks=(recorder,))
    assert [s for s, _ in history.evaluations] == [15, 30, 40]
    assert history.evaluations[-1][1]["accuracy"] > max(0.9, before["accuracy"])
    assert len(history.train_loss) == 40
    assert recorder.events[:3] == [("start", 0), ("backward", 0, True), ("end", 0)]
    assert recorder.events[-1] == ("end", 39)


def test_same_seed_same_weights():
    results = []
    for _ in range(2):
        model = load_model("tiny-bert", 2, seed=5)
        torch.manual_seed(5)
        finetune(model, _parity_data(), TrainConfig(steps=5, lr=1e-3, batch_size=16), seed=5)
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(results[0], results[1])
