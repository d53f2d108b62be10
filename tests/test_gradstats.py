"""Gradient statistics against a brute-force reference that stores every batch's gradient."""

import numpy as np
import pytest
import torch

from pruning import masks_from_scores, prunable_parameters, score
from pruning.architectures import weight_table
from pruning.gradstats import HISTOGRAM_STRIDE, LOG10_EDGES, GradientStats, rgv_table
from pruning.methods.base import backward_on
from pruning.models import load_model

from .conftest import tiny_inputs


@pytest.fixture(scope="module")
def tiny():
    model = load_model("tiny-bert", 3).eval()
    params = prunable_parameters(model)
    masks = masks_from_scores(score("random", model, seed=1), 0.6)
    weights = weight_table(model)
    stats = GradientStats(params, masks, {n: w.role for n, w in weights.items()})
    history = []
    for seed in range(6):
        backward_on(model, tiny_inputs("tiny-bert", batch=4, seed=seed))
        stats.add_batch()
        history.append({n: p.grad.clone() for n, p in params.items()})
    return params, masks, weights, stats, history


def test_moments_snr_and_saliency_match_stored_gradients(tiny):
    params, _, _, stats, history = tiny
    result = stats.compute()
    for name, p in params.items():
        g = torch.stack([h[name] for h in history])
        mean, var = g.mean(0), g.var(0, unbiased=False)
        torch.testing.assert_close(result["mean"][name], mean, rtol=1e-5, atol=1e-9)
        torch.testing.assert_close(result["var"][name], var, rtol=1e-4, atol=1e-9)
        torch.testing.assert_close(result["saliency"][name], (p.detach() * g).abs().mean(0), rtol=1e-5, atol=1e-9)
        finite = var > 1e-12
        torch.testing.assert_close(result["snr"][name][finite], (mean**2 / var)[finite], rtol=1e-3, atol=1e-6)


def test_rgv_per_matrix_kept_and_pruned_match_the_definition(tiny):
    params, masks, weights, stats, history = tiny
    table = rgv_table(stats.terms, weights)
    assert sorted(table["step"].unique()) == [1, 2, 3, 4, 5]
    name = next(iter(params))
    layer, module = 0, weights[name].role
    for step in (1, 4):
        before, after = history[step - 1][name], history[step][name]
        for subset, select in (("all", torch.ones_like(masks[name])), ("kept", masks[name]), ("pruned", ~masks[name])):
            expected = ((after - before).abs()[select].sum() / before.abs()[select].sum()).item()
            row = table[(table.step == step) & (table.layer == layer) & (table.module == module)
                        & (table.subset == subset)]
            assert row["rgv"].item() == pytest.approx(expected, rel=1e-4)


def test_layer_rgv_sums_numerators_and_denominators(tiny):
    _, _, weights, stats, history = tiny
    table = rgv_table(stats.terms, weights)
    step_rows = table[(table.step == 2) & (table.layer == 1) & (table.subset == "all")]
    names = [n for n in history[0] if weights[n].layer == 1]
    assert names
    numerator = sum((history[2][n] - history[1][n]).abs().sum().item() for n in names)
    denominator = sum(history[1][n].abs().sum().item() for n in names)
    got = step_rows["numerator"].sum() / step_rows["denominator"].sum()
    assert got == pytest.approx(numerator / denominator, rel=1e-4)


def test_histograms_count_every_strided_entry_with_a_nonzero_previous_gradient(tiny):
    _, _, weights, stats, history = tiny
    total = sum(h.sum() for h in stats.histograms.values())
    expected = sum(int((history[t][n].flatten()[::HISTOGRAM_STRIDE] != 0).sum()) for t in range(5) for n in history[0])
    assert total == expected
    assert len(next(iter(stats.histograms.values()))) == len(LOG10_EDGES) - 1
    assert set(stats.histograms) == {w.role for w in weights.values()}


def test_memory_is_four_copies_and_no_gradient_is_stored(tiny):
    params, _, weights, stats, _ = tiny
    tracked = sum(p.numel() for p in params.values())
    held = sum(t.numel() for d in (stats.sum_g, stats.sum_g2, stats.sum_saliency, stats.previous) for t in d.values())
    assert held == 4 * tracked
    assert np.isfinite(rgv_table(stats.terms, weights)["rgv"]).all()


def test_histogram_bins_match_numpy_on_the_same_entries():
    model = load_model("tiny-bert", 3).eval()
    params = {n: p for n, p in prunable_parameters(model).items() if n.endswith("layer.0.attention.self.query.weight")}
    stats = GradientStats(params, roles={n: "q" for n in params})
    grads = []
    for seed in range(2):
        backward_on(model, tiny_inputs("tiny-bert", seed=seed))
        stats.add_batch()
        grads.append(next(iter(params.values())).grad.flatten()[::HISTOGRAM_STRIDE].numpy().copy())
    before, after = grads
    keep = before != 0
    ratio = np.log10(np.abs(after - before)[keep] / np.abs(before)[keep])
    expected, _ = np.histogram(np.clip(ratio, LOG10_EDGES[0], LOG10_EDGES[-1] - 1e-6), bins=LOG10_EDGES)
    assert stats.histograms["q"].tolist() == expected.tolist()


def test_fine_tuning_rgv_restricts_to_the_entries_kept_at_each_step_and_the_noise_scale_matches_numpy():
    from pruning.architectures import prunable_weights
    from pruning.data import Encoded
    from pruning.gradstats import StepNoise
    from pruning.masks import get_masks
    from pruning.train import Callback, TrainConfig, finetune

    torch.manual_seed(0)
    model = load_model("tiny-bert", 2)
    weights = prunable_weights(model)
    seen = []

    class Record(Callback):  # the gradients StepNoise reads, and the masks in force then
        def after_backward(self, state):
            masks = get_masks(state.model)
            seen.append(({w.name: w.module.weight.grad.clone() for w in weights}, masks))

    class PruneAtStep3(Callback):
        def on_step_end(self, state):
            if state.step == 2:
                state.set_masks(masks_from_scores(score("random", state.model, seed=4), 0.5))

    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 5000, (48, 10), generator=g)
    data = Encoded({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids[:, 0] % 2)
    tracker = StepNoise(weights)
    finetune(model, data, TrainConfig(steps=6, lr=1e-3, batch_size=8, warmup=0.0), seed=0,
             callbacks=(Record(), PruneAtStep3(), tracker))
    table = tracker.rgv_table()
    for step in (2, 3, 5):  # before, at and after the mask appears (it is in force from step 3 on)
        before, (after, masks) = seen[step - 1][0], seen[step]
        for w in weights[:3]:
            kept = masks[w.name] if masks else torch.ones_like(after[w.name], dtype=torch.bool)
            expected = ((after[w.name] - before[w.name]).abs()[kept].sum() / before[w.name].abs()[kept].sum()).item()
            row = table[(table.step == step) & (table.layer == w.layer) & (table.module == w.role)]
            assert row["rgv"].item() == pytest.approx(expected, rel=1e-4), (step, w.name)
    noise = tracker.noise(batch_size=8).set_index(["layer", "module"])
    w = weights[0]
    g = np.stack([s[0][w.name].numpy() for s in seen])
    trace = g.var(axis=0, ddof=1).sum()
    signal = np.square(g.mean(axis=0)).sum() - trace / len(g)
    assert noise.loc[(w.layer, w.role), "trace"] == pytest.approx(trace, rel=1e-4)
    assert noise.loc[(w.layer, w.role), "signal"] == pytest.approx(signal, rel=1e-3, abs=1e-9)
    if signal > 0:
        assert noise.loc[(w.layer, w.role), "b_simple"] == pytest.approx(8 * trace / signal, rel=1e-3)
