"""SPP: the dynamics on a toy problem with a known support, the path of a tiny BERT, and read-offs."""

import itertools

import numpy as np
import pytest
import torch

from analysis.solution_path import SolutionPath
from pruning.compress import compress
from pruning.models import load_model
from pruning.structured import masked
from pruning.structured_methods.spp import SPPSettings, ranking, search, solution_path

from .conftest import tiny_inputs

SIGNAL = torch.tensor([1.5, 0.0, 3.0, -2.5, 0.0, 2.0, 0.0])
"""Toy problem L(M) = ½‖M − M*‖²: the support of M* is known, and so is the order of its sizes."""


def toy(variant, **hparams):
    settings = SPPSettings(variant=variant, steps=300, checkpoints=30, **hparams)
    return search(lambda m: m.detach() - SIGNAL, len(SIGNAL), settings), settings


def test_paper_dynamics_join_the_support_in_order_of_signal():
    found, settings = toy("paper", alpha=0.1, nu=10.0, lam=1.0)
    join = found.join_step
    support = SIGNAL != 0
    assert (join[~support.numpy()] == -1).all()  # no noise entry ever joins
    by_size = np.argsort(-SIGNAL.abs().numpy())[: int(support.sum())]
    assert (np.diff(join[by_size]) > 0).all(), join  # 3.0 first, then -2.5, 2.0, 1.5
    rank, _ = ranking(found, "paper", settings.steps)
    assert list(np.argsort(rank)[:4]) == list(by_size)
    # Γ follows κ·shrink(Z, λ): the sign of a negative signal survives
    assert found.gamma[3, -1] < 0 < found.gamma[2, -1]


def test_code_variant_ranks_the_positive_support_by_checks():
    found, settings = toy("code", lr=0.02, lam=3.0, check_every=2)
    positive = np.array([2, 5, 0])  # signals 3.0, 2.0, 1.5
    assert (np.diff(found.checks[positive]) < 0).all(), found.checks
    assert (found.checks[SIGNAL.numpy() <= 0] == 0).all()  # Γ = max(Z − λ, 0) is one-sided
    rank, priority = ranking(found, "code", settings.steps)
    assert list(np.argsort(rank)[:3]) == list(positive)
    assert (priority == found.checks).all()


def test_settings_reject_bad_values_by_name():
    with pytest.raises(ValueError, match=r"spp.variant: 'fast' is not allowed; must be one of paper, code"):
        SPPSettings(variant="fast")
    with pytest.raises(ValueError, match=r"spp\.nu"):
        SPPSettings(nu=0)


@pytest.fixture(scope="module")
def tiny_path():
    model = load_model("tiny-bert", 3).eval()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    batches = itertools.cycle([tiny_inputs("tiny-bert", batch=8, seed=s) for s in range(4)])
    calls = []

    def evaluate(m):
        calls.append(1)
        with torch.no_grad():
            out = m(**tiny_inputs("tiny-bert", batch=8, seed=9))
        return {"loss": float(out.loss), "accuracy": 0.5}

    path = solution_path(model, batches, evaluate=evaluate, steps=60, checkpoints=12, alpha=2.0, nu=5.0, lam=0.2)
    return model, before, path, calls


def test_search_leaves_weights_frozen_and_untouched(tiny_path):
    model, before, _, _ = tiny_path
    for name, param in model.named_parameters():
        assert param.grad is None, name
        assert param.requires_grad
        torch.testing.assert_close(param, before[name], rtol=0, atol=0)


def test_path_arrays_have_entries_first_and_checkpoints_last(tiny_path):
    _, _, path, calls = tiny_path
    entries = 2 * (8 + 8 + 64)
    assert path.gamma.shape == (entries, 12) and list(path.steps) == list(range(5, 61, 5))
    assert len(calls) == 12 and path.loss.shape == (12,)
    assert sorted(path.rank) == list(range(entries))
    assert (path.join_step >= 0).any(), "nothing joined: the test's dynamics are too slow"
    # an entry non-zero at a checkpoint had joined by then
    for c, step in enumerate(path.steps):
        nonzero = path.gamma[:, c] != 0
        assert (path.join_step[nonzero] >= 1).all() and (path.join_step[nonzero] <= step).all()
    with pytest.raises(ValueError):
        path.gamma[0, 0] = 1.0


@pytest.mark.parametrize("budget", ["global", "per_pool", "authors"])
def test_read_offs_are_nested(tiny_path, budget):
    path = tiny_path[2]
    masks = [path.masks_at(s, budget) for s in np.linspace(0, 1, 41)]
    for denser, sparser in itertools.pairwise(masks):
        assert not (sparser & ~denser).any()
    assert masks[0].all()
    if budget != "authors":  # the authors' rule keeps the top ties even at s = 1
        assert not masks[-1].any()


@pytest.mark.parametrize("sparsity", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_global_read_off_meets_the_parameter_budget_exactly(tiny_path, sparsity):
    """Kept parameters reach (1 − s) of the total, and dropping the last entry kept would not."""
    path = tiny_path[2]
    keep = path.masks_at(sparsity)
    target = (1 - sparsity) * path.total_params
    last = np.flatnonzero(keep)[np.argmax(path.rank[keep])]
    assert path.kept_params(keep) >= target > path.kept_params(keep) - path.weight[last]
    # and the kept set is a prefix of the rank order
    assert path.rank[keep].max() < path.rank[~keep].min()


def test_per_pool_read_off_meets_each_pool_budget(tiny_path):
    path = tiny_path[2]
    keep = path.masks_at(0.6, "per_pool")
    for kinds in ((0, 1), (2,)):
        pool = np.isin(path.kind, kinds)
        share = path.weight[keep & pool].sum() / path.weight[pool].sum()
        assert 0.4 <= share < 0.4 + path.weight[pool].max() / path.weight[pool].sum()


def _one_pool(priority):
    n = len(priority)
    return SolutionPath(
        blocks=("b0",), block=np.zeros(n, int), kind=np.array([2] * n), index=np.arange(n), weight=np.ones(n, int),
        rank=np.arange(n), priority=np.array(priority, float), join_step=np.zeros(n, int),
        gamma=np.zeros((n, 1), np.float32), steps=np.array([1]), loss=np.array([0.0]), accuracy=np.array([0.0]),
    )


def test_authors_read_off_keeps_ties_at_the_threshold():
    """threshold = sorted[argmin_i |i − s·n|], keep ≥ threshold (the authors' set_alpha_sparsity)."""
    path = _one_pool([5, 4, 3, 0, 0, 0, 0, 0])
    assert path.masks_at(0.25, "authors").all()  # 5 of 8 never joined: a 25% cut lands on a tie
    assert path.masks_at(0.75, "authors").tolist() == [True, True, True, False, False, False, False, False]
    assert _one_pool([5, 4, 3, 2, 1, 1, 0, 0]).masks_at(0.25, "authors").all()
    # distinct priorities: the threshold entry itself stays, so k − 1 = 1 of 8 goes at 25%
    assert _one_pool(range(8, 0, -1)).masks_at(0.25, "authors").tolist() == [True] * 7 + [False]


def test_path_saves_and_loads(tiny_path, tmp_path):
    path = tiny_path[2]
    again = SolutionPath.load(path.save(tmp_path / "path.safetensors"))
    assert again.blocks == path.blocks and again.hparams == path.hparams
    for name in ("rank", "gamma", "weight", "join_step", "loss"):
        np.testing.assert_array_equal(getattr(again, name), getattr(path, name))
    np.testing.assert_array_equal(again.masks_at(0.5), path.masks_at(0.5))


def test_block_masks_compress_to_the_read_off_size(tiny_path):
    model, _, path, _ = tiny_path
    keep = path.masks_at(0.5)
    masks = {k: [torch.from_numpy(v) for v in vectors] for k, vectors in path.block_masks(keep).items()}
    small = compress(model, masks)
    removed = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in small.parameters())
    # everything removed is structured; placeholders (a block with no VO dim or FFN neuron) keep a little
    assert removed <= path.total_params - path.kept_params(keep)
    inputs = tiny_inputs("tiny-bert")
    with torch.no_grad(), masked(model, {k: [m.float() for m in v] for k, v in masks.items()}):
        reference = model(**inputs).logits
    with torch.no_grad():
        torch.testing.assert_close(small(**inputs).logits, reference, rtol=1e-5, atol=1e-6)


def test_the_search_records_the_mean_gradient_and_its_magnitude():
    seen = []

    def gradient(m):
        g = m.detach() - SIGNAL + 0.1 * torch.randn(len(SIGNAL), generator=noise)
        seen.append(g.clone())
        return g

    noise = torch.Generator().manual_seed(0)
    found = search(gradient, len(SIGNAL), SPPSettings(steps=40, checkpoints=4, alpha=0.1, nu=10.0, lam=1.0))
    stacked = torch.stack(seen)
    np.testing.assert_allclose(found.grad_mean, stacked.mean(0).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(found.grad_abs, stacked.abs().mean(0).numpy(), rtol=1e-5, atol=1e-7)


def test_the_gradient_order_ranks_by_mean_absolute_gradient_then_index():
    found, settings = toy("paper", alpha=0.1, nu=10.0, lam=1.0)
    rank, priority = ranking(found, "paper", settings.steps, order="gradient")
    np.testing.assert_array_equal(priority, found.grad_abs)
    expected = np.lexsort((np.arange(len(priority)), -priority))
    np.testing.assert_array_equal(np.argsort(rank), expected)
    with pytest.raises(ValueError, match="order: 'size' is not one of path, gradient"):
        solution_path(None, [], order="size")
