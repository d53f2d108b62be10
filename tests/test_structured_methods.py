"""Structured baselines: each score against a hand-made or brute-force reference, the features an
entry controls against entry_params on every tiny architecture, equal budgets, and a real run."""

import copy
import itertools

import numpy as np
import pytest
import torch

from analysis.solution_path import SolutionPath
from analysis.store import load_table, read_run
from pruning.compress import bake
from pruning.models import load_model
from pruning.structured import KINDS, Entries, controlled_features, masked, ones, structured_blocks
from pruning.structured_methods import STRUCTURED_METHODS
from pruning.structured_methods.base import Scoring, ranked_path
from pruning.structured_methods.lasso import lasso_search

from .conftest import ARCHITECTURES, structured_smoke_configs, tiny_inputs

BASELINES = [name for name, m in STRUCTURED_METHODS.items() if m.score is not None]


def scoring(model, name, count=2, seed=0):
    blocks = structured_blocks(model)
    batches = iter([tiny_inputs(name, seed=s) for s in range(count)])
    return Scoring(model.eval(), blocks, Entries(blocks), batches, count, seed, lasso_settings())


def one_removed(block_sizes, kind, entry):
    kept = {k: torch.ones(n, dtype=torch.bool) for k, n in block_sizes.items()}
    kept[kind][entry] = False
    return kept


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_an_entry_controls_exactly_entry_params_features(name):
    model = load_model(name, 3)
    for block in structured_blocks(model):
        every = {k: torch.ones(n, dtype=torch.bool) for k, n in block.sizes.items()}
        counted = dict.fromkeys(KINDS, 0)
        for role, side, kind, _index, owner in controlled_features(block, every):
            module = block.modules[role]
            rows, cols = module.weight.shape
            per_feature = (cols if (side == "out") != block.layout.transposed else rows)
            per_feature += int(side == "out" and module.bias is not None)
            counted[kind] += per_feature * int((owner == 1).sum())
        assert counted == {kind: block.entry_params(kind) for kind in KINDS}


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2", "tiny-llama"])
def test_magnitude_is_the_rms_of_what_removing_the_entry_zeroes(name):
    """Brute force: bake a copy without one entry; the weights that changed are what it controls."""
    model = load_model(name, 3)
    for param_name, param in model.named_parameters():
        if param_name.endswith("bias"):
            torch.nn.init.normal_(param)  # HF starts biases at 0: then a removed bias would not show
    scores = STRUCTURED_METHODS["magnitude (structured)"].score(scoring(model, name))
    per_block = Entries(structured_blocks(model)).split(scores)
    for b, block in enumerate(structured_blocks(model)):
        for kind in KINDS:
            entry = block.sizes[kind] - 1
            masks = ones(structured_blocks(model))
            masks = {k: [m.bool() for m in v] for k, v in masks.items()}
            masks[kind][b] = one_removed(block.sizes, kind, entry)[kind]
            baked = bake(copy.deepcopy(model), masks)
            before = torch.cat([p.detach().flatten() for p in model.parameters()])
            after = torch.cat([p.detach().flatten() for p in baked.parameters()])
            removed = before[before != after]
            assert removed.numel() == block.entry_params(kind)
            expected = (removed.double().pow(2).sum() / block.entry_params(kind)).sqrt()
            torch.testing.assert_close(per_block[kind][b][entry], expected, rtol=1e-6, atol=0)


def test_magnitude_of_a_bert_qk_dim_by_hand():
    model = load_model("tiny-bert", 3)
    attention = model.bert.encoder.layer[0].attention.self
    heads, dims = attention.num_attention_heads, attention.attention_head_size
    j = 2
    rows = [h * dims + j for h in range(heads)]
    parts = [attention.query.weight[rows], attention.key.weight[rows], attention.query.bias[rows, None],
             attention.key.bias[rows, None]]
    squares = sum(p.detach().double().pow(2).sum() for p in parts)
    expected = (squares / sum(p.numel() for p in parts)).sqrt()
    scores = STRUCTURED_METHODS["magnitude (structured)"].score(scoring(model, "tiny-bert"))
    torch.testing.assert_close(scores[j], expected, rtol=1e-6, atol=0)


def test_uniform_magnitude_keeps_the_rms_order_and_one_share_in_every_layer_and_kind():
    model = load_model("tiny-bert", 3)
    blocks = structured_blocks(model)
    entries = Entries(blocks)
    rms = entries.split(STRUCTURED_METHODS["magnitude (structured)"].score(scoring(model, "tiny-bert")))
    uniform = STRUCTURED_METHODS["magnitude (structured, uniform)"].score(scoring(model, "tiny-bert"))
    path = ranked_path(blocks, entries, uniform.double().numpy(), {})
    kept = entries.split(torch.as_tensor(path.masks_at(0.5)))
    for kind in KINDS:
        for b in range(len(blocks)):
            n = len(rms[kind][b])
            order = torch.argsort(entries.split(uniform)[kind][b])
            assert torch.equal(order, torch.argsort(rms[kind][b], stable=True))
            assert abs(int(kept[kind][b].sum()) - n / 2) <= 1


def test_taylor_is_the_mean_absolute_mask_derivative_by_central_differences():
    model = load_model("tiny-bert", 3).double().eval()
    blocks = structured_blocks(model)
    entries = Entries(blocks)
    scores = STRUCTURED_METHODS["Taylor (structured)"].score(scoring(model, "tiny-bert", count=2))
    h = 1e-5
    for e in (0, 5, entries.size // 2, entries.size - 1):
        differences = []
        for s in range(2):
            losses = []
            for sign in (1, -1):
                m = torch.ones(entries.size, dtype=torch.float64)
                m[e] += sign * h
                with torch.no_grad(), masked(model, entries.split(m), blocks):
                    losses.append(model(**tiny_inputs("tiny-bert", seed=s)).loss.item())
            differences.append(abs(losses[0] - losses[1]) / (2 * h))
        assert scores[e].item() == pytest.approx(np.mean(differences), rel=1e-5, abs=1e-9)


def test_random_scores_are_seeded():
    model = load_model("tiny-bert", 3)
    method = STRUCTURED_METHODS["random (structured)"]
    first, again = (method.score(scoring(model, "tiny-bert", seed=3)) for _ in range(2))
    other = method.score(scoring(model, "tiny-bert", seed=4))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_ranked_path_orders_by_score_with_ties_by_index():
    model = load_model("tiny-bert", 3)
    blocks = structured_blocks(model)
    entries = Entries(blocks)
    scores = np.zeros(entries.size)
    scores[[7, 3, 11]] = [2.0, 1.0, 1.0]
    path = ranked_path(blocks, entries, scores, {})
    assert list(np.argsort(path.rank)[:4]) == [7, 3, 11, 0]


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.7])
def test_every_baseline_meets_the_same_parameter_budget(name, sparsity):
    model = load_model("tiny-bert", 3)
    batches = itertools.cycle([tiny_inputs("tiny-bert", seed=s) for s in range(2)])
    path = STRUCTURED_METHODS[name].run(model, batches, count=2, settings=lasso_settings(target=sparsity))
    keep = path.masks_at(sparsity)
    target = (1 - sparsity) * path.total_params
    assert 0 <= path.kept_params(keep) - target < path.weight.max()


def test_scoring_leaves_the_model_as_it_was():
    model = load_model("tiny-bert", 3).train()
    flags = [p.requires_grad for p in model.parameters()]
    before = copy.deepcopy(model.state_dict())
    STRUCTURED_METHODS["Taylor (structured)"].run(model, [tiny_inputs("tiny-bert")], count=1, settings={})
    assert model.training and flags == [p.requires_grad for p in model.parameters()]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_a_baseline_runs_end_to_end_like_an_spp_run(structured_smoke_runs):
    config = structured_smoke_configs()["Taylor (structured)"]
    run = read_run(structured_smoke_runs / config.run_id)
    assert run.status == "done" and run.is_path and run.manifest["method_label"] == "Taylor (structured)"
    assert run.manifest["budget"]["search_steps"] == 0 and not run.manifest["per_target"]
    assert {"search", "read-off", "read-off evaluation", "speed", "recover"} <= set(run.manifest["timings"])
    path = SolutionPath.load(run.path / "path.safetensors")
    assert path.hparams["method"] == "Taylor (structured)" and path.gamma.shape[1] == 0
    metrics = load_table(run, "metrics")
    assert set(metrics["split"]) == {"dense", "readoff", "recovered", "recovered-test"}
    readoff = metrics[(metrics["split"] == "readoff") & (metrics["metric"] == "accuracy")]
    assert sorted(readoff["sparsity"]) == [0.3, 0.6]
    models = {"dense", "masked", "compressed", "dense onnxruntime", "compressed onnxruntime"}
    assert set(load_table(run, "speed")["model"]) == models


@pytest.mark.slow
def test_a_lasso_run_is_one_target(structured_smoke_runs):
    run = read_run(structured_smoke_runs / structured_smoke_configs()["lasso (structured)"].run_id)
    assert run.status == "done" and run.manifest["per_target"] and run.manifest["sparsity"] == 0.3
    assert "target 30%" in run.label
    recovered = load_table(run, "metrics").query("split == 'recovered'")
    assert set(recovered["sparsity"]) == {0.3}


def lasso_settings(**changes):
    return {"steps": 60, "alpha": 5.0, "kappa": 1.0, "target": 0.5, **changes}


@pytest.mark.parametrize("name, priced", [("lasso (structured)", False), ("lasso, parameter-priced (ours)", True)])
def test_one_lasso_step_is_the_proximal_step_by_hand(name, priced):
    model = load_model("tiny-bert", 3).eval()
    blocks = structured_blocks(model)
    entries = Entries(blocks)
    batch = tiny_inputs("tiny-bert")
    scoring_ = Scoring(model, blocks, entries, iter([batch]), 1, 0, lasso_settings(steps=1, alpha=0.5))
    scores = STRUCTURED_METHODS[name].score(scoring_)
    leaf = torch.ones(entries.size, requires_grad=True)
    with masked(model, entries.split(leaf), blocks):
        model(**batch).loss.backward()
    eta, weight = 0.5, torch.as_tensor(entries.arrays["weight"], dtype=torch.float32)
    z = 1 - eta * leaf.grad
    price = weight / weight.mean() if priced else torch.ones_like(weight)
    threshold = eta * (1 / eta) * price  # λ_0 = 1/(η·T), T = 1
    expected = (z.abs() - threshold).clamp(min=0)
    survived = expected > 0
    torch.testing.assert_close(scores[survived], expected[survived])
    assert (scores[~survived] == -1.0).all()  # zero after the only step: (t_e − T)/T = (0 − 1)/1


@pytest.mark.parametrize("priced", [False, True])
@pytest.mark.parametrize("target", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_the_lasso_penalty_reaches_its_target(target, priced):
    """Toy L(M) = ½‖M − M*‖²·0.02 with entries of 1-3 parameters: the zero entries' parameter share
    ends at the target, and what survives is mostly the entries of largest M* (per parameter when
    the penalty prices parameters)."""
    g = torch.Generator().manual_seed(0)
    star = torch.rand(200, generator=g) * 2
    weight = torch.randint(1, 4, (200,), generator=g).float()
    scores = lasso_search(lambda m: 0.02 * (m - star), weight, steps=200, eta=1.0, target=target, priced=priced)
    assert float(weight[scores <= 0].sum() / weight.sum()) == pytest.approx(target, abs=0.03)
    kept = scores > 0
    best = torch.zeros(200, dtype=torch.bool)
    best[torch.argsort(star / weight if priced else star, descending=True)[:int(kept.sum())]] = True
    assert (kept & best).sum() >= 0.8 * kept.sum()


def test_a_lasso_run_records_its_target_and_meets_it_exactly():
    model = load_model("tiny-bert", 3)
    batches = itertools.cycle([tiny_inputs("tiny-bert", seed=s) for s in range(2)])
    path = STRUCTURED_METHODS["lasso (structured)"].run(model, batches, settings=lasso_settings(target=0.4))
    assert path.hparams["target"] == 0.4 and path.hparams["steps"] == 60
    assert abs(path.sparsity_of(path.masks_at(0.4)) - 0.4) < path.weight.max() / path.total_params
