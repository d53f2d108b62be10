"""Mask invariants: exact counts, deterministic ties, zero forward, no update, bake-in, export."""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pruning import apply_masks, masks_from_scores, prunable_parameters, remove_masks, score
from pruning.architectures import PrunableWeight, weight_table
from pruning.masks import get_masks, to_torch_prune, top_k_masks
from pruning.models import load_model
from pruning.train import Callback, TrainConfig, finetune

from .conftest import ARCHITECTURES, clip_model, tiny_inputs


def _scores(shapes: dict[str, tuple], seed: int, levels: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randint(0, levels, s, generator=g).float() for n, s in shapes.items()}


SHAPES = {
    "enc.layer.0.q.weight": (6, 8), "enc.layer.0.ffn.weight": (7, 4),
    "enc.layer.1.q.weight": (4, 4), "pooler.weight": (3, 8),
}
LAYERS = {"enc.layer.0.q.weight": 0, "enc.layer.0.ffn.weight": 0, "enc.layer.1.q.weight": 1, "pooler.weight": None}
WEIGHTS = {name: PrunableWeight(name, layer, "q", None) for name, layer in LAYERS.items()}


@settings(max_examples=60, deadline=None)
@given(sparsity=st.floats(0, 1), seed=st.integers(0, 10_000), levels=st.sampled_from([2, 5, 1000]),
       allocation=st.sampled_from(["global", "layer", "module"]))
def test_exact_counts_and_top_scores_kept(sparsity, seed, levels, allocation):
    scores = _scores(SHAPES, seed, levels)
    masks = masks_from_scores(scores, sparsity, allocation, weights=WEIGHTS)
    groups = {"global": lambda n: "all", "layer": lambda n: LAYERS[n] if LAYERS[n] is not None else n,
              "module": lambda n: n}[allocation]
    for group in {groups(n) for n in scores}:
        names = [n for n in scores if groups(n) == group]
        total = sum(scores[n].numel() for n in names)
        kept = sum(int(masks[n].sum()) for n in names)
        assert kept == round((1 - sparsity) * total)
        kept_scores = torch.cat([scores[n][masks[n]] for n in names])
        dropped = torch.cat([scores[n][~masks[n]] for n in names])
        if len(kept_scores) and len(dropped):
            assert kept_scores.min() >= dropped.max()


@settings(max_examples=60, deadline=None)
@given(sparsity=st.floats(0, 1), seed=st.integers(0, 10_000), levels=st.sampled_from([2, 5, 1000]),
       transposed=st.booleans())
def test_row_allocation_keeps_exact_counts_per_output_row(sparsity, seed, levels, transposed):
    scores = _scores(SHAPES, seed, levels)
    weights = {n: PrunableWeight(n, 0, "q", None, transposed) for n in scores}
    masks = masks_from_scores(scores, sparsity, "row", weights=weights)
    for name, values in scores.items():
        rows, kept = (values.t(), masks[name].t()) if transposed else (values, masks[name])
        for row_scores, row_kept in zip(rows, kept, strict=True):
            assert int(row_kept.sum()) == round((1 - sparsity) * len(row_scores))
            if row_kept.any() and (~row_kept).any():
                assert row_scores[row_kept].min() >= row_scores[~row_kept].max()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), levels=st.sampled_from([2, 5, 1000]), pattern=st.sampled_from(["2:4", "4:8"]),
       transposed=st.booleans())
def test_n_m_keeps_n_of_every_m_consecutive_inputs(seed, levels, pattern, transposed):
    n, m = map(int, pattern.split(":"))
    shapes = {"a.0.w": (3, 8), "a.1.w": (5, 16)}
    scores = _scores({k: v[::-1] if transposed else v for k, v in shapes.items()}, seed, levels)
    weights = {k: PrunableWeight(k, 0, "q", None, transposed) for k in scores}
    masks = masks_from_scores(scores, 1 - n / m, pattern, weights=weights)
    for name, values in scores.items():
        rows, kept = (values.t(), masks[name].t()) if transposed else (values, masks[name])
        groups, kept_groups = rows.reshape(rows.shape[0], -1, m), kept.reshape(rows.shape[0], -1, m)
        assert (kept_groups.sum(-1) == n).all()
        assert (groups.masked_fill(~kept_groups, torch.inf).amin(-1)
                >= groups.masked_fill(kept_groups, -torch.inf).amax(-1)).all()
    with pytest.raises(ValueError, match=r"sparsity: 0.6 is not allowed with allocation 2:4; must be 0\.5"):
        masks_from_scores(scores, 0.6, "2:4")
    with pytest.raises(ValueError, match=r"groups of 8"):
        masks_from_scores({"w": torch.ones(2, 12)}, 0.5, "4:8")


def test_row_and_n_m_ties_go_to_the_lowest_index():
    scores = {"w": torch.tensor([[1.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0, 0.0]])}
    assert masks_from_scores(scores, 0.5, "row")["w"].tolist() == [[True, True, True, False, True, False, False,
                                                                      False]]
    assert masks_from_scores(scores, 0.5, "2:4")["w"].tolist() == [[True, True, False, False, True, True, False,
                                                                      False]]


def test_layer_allocation_keeps_clip_towers_apart():
    model = clip_model()
    table = weight_table(model)
    vision = {n for n in table if "vision_model" in n}
    text = {n for n in table if "text_model" in n}
    assert vision and text  # CLIPModel: both towers, blocks numbered across them
    assert not {table[n].layer for n in vision} & {table[n].layer for n in text}
    scores = {n: torch.full_like(p, 1.0 if n in vision else 0.0) for n, p in prunable_parameters(model).items()}
    masks = masks_from_scores(scores, 0.5, "layer", weights=table)
    for layer in {w.layer for w in table.values()}:
        names = [n for n, w in table.items() if w.layer == layer]
        kept, total = sum(int(masks[n].sum()) for n in names), sum(masks[n].numel() for n in names)
        assert kept == round(0.5 * total), layer  # each block keeps half, whichever tower it is in
    with pytest.raises(ValueError, match="weights="):
        masks_from_scores(scores, 0.5, "layer")


def test_ties_go_to_the_lowest_index_in_dict_order():
    scores = {"a.0.w": torch.ones(2, 3), "a.1.w": torch.ones(4)}
    masks = masks_from_scores(scores, 0.5, "global")  # keep 5 of 10 equal scores
    assert masks["a.0.w"].tolist() == [[True, True, True], [True, True, False]]
    assert not masks["a.1.w"].any()
    [mask] = top_k_masks([torch.tensor([3.0, 1.0, 3.0, 3.0])], 2)
    assert mask.tolist() == [True, False, True, False]
    [mask] = top_k_masks([torch.tensor([-0.0, 0.0, -1.0, float("inf"), -2.5])], 3)  # signs, zeros, inf
    assert mask.tolist() == [True, True, False, True, False]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="allocation"):
        masks_from_scores({"w": torch.ones(2)}, 0.5, "rows")
    with pytest.raises(ValueError, match="sparsity"):
        masks_from_scores({"w": torch.ones(2)}, 1.5)
    with pytest.raises(ValueError, match="NaN"):
        masks_from_scores({"w": torch.tensor([1.0, float("nan")])}, 0.5)
    model = load_model("tiny-bert", 2)
    with pytest.raises(KeyError, match="not a parameter"):
        apply_masks(model, {"nope.weight": torch.ones(2, dtype=torch.bool)})
    name, param = next(iter(prunable_parameters(model).items()))
    with pytest.raises(ValueError, match="bool of shape"):
        apply_masks(model, {name: torch.ones(param.shape)})


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_all_ones_mask_changes_nothing(name):
    torch.manual_seed(0)
    dense = load_model(name, 3).train()
    masked = copy.deepcopy(dense)
    apply_masks(masked, {n: torch.ones_like(p, dtype=torch.bool)
                         for n, p in prunable_parameters(masked).items()})
    batch = tiny_inputs(name)
    for model in (dense, masked):
        torch.manual_seed(1)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        model(**batch).loss.backward()
        opt.step()
    for (n, a), b in zip(dense.named_parameters(), masked.parameters(), strict=True):
        assert torch.equal(a, b), n


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_pruned_weights_are_zero_get_no_gradient_and_no_adamw_update(name):
    model = load_model(name, 3)
    masks = masks_from_scores(score("magnitude", model), 0.7)
    apply_masks(model, masks)
    params = prunable_parameters(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.5)
    for step in range(3):
        model(**tiny_inputs(name, seed=step)).loss.backward()
        for n, p in params.items():
            assert not p.grad[~masks[n]].any(), n
        opt.step()
        opt.zero_grad()
    for n, p in params.items():
        assert not p[~masks[n]].any(), n
        assert p[masks[n]].count_nonzero() == masks[n].sum()  # kept weights are still alive


class _PruneAt(Callback):
    """Prunes to 80% by magnitude at a given step: masks arrive after AdamW has state."""

    def __init__(self, step):
        self.at, self.masks = step, None

    def on_step_end(self, state):
        if state.step == self.at:
            self.masks = masks_from_scores(score("magnitude", state.model), 0.8)
            state.set_masks(self.masks)


def test_masks_set_mid_training_stay_exactly_zero_through_adamw_momentum():
    from pruning.data import Encoded

    model = load_model("tiny-bert", 2)
    ids = torch.randint(1000, 5000, (64, 10), generator=torch.Generator().manual_seed(0))
    data = Encoded({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids[:, 0] % 2)
    callback = _PruneAt(step=3)
    config = TrainConfig(steps=10, lr=1e-2, batch_size=8, weight_decay=0.3, warmup=0.0)
    finetune(model, data, config, seed=0, callbacks=(callback,))
    for n, p in prunable_parameters(model).items():
        assert not p[~callback.masks[n]].any(), n


def test_remove_masks_bakes_zeros_in_and_stops_masking():
    model = load_model("tiny-bert", 3)
    masks = masks_from_scores(score("magnitude", model), 0.5)
    apply_masks(model, masks)
    assert remove_masks(model) is not None and remove_masks(model) is None
    assert get_masks(model) is None
    params = prunable_parameters(model)
    for n, p in params.items():
        assert not p[~masks[n]].any()
    model(**tiny_inputs("tiny-bert")).loss.backward()
    assert any(p.grad[~masks[n]].any() for n, p in params.items())  # gradients flow again


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-gpt2"])
def test_torch_prune_export_has_orig_and_mask_and_same_outputs(name):
    model = load_model(name, 3).eval()
    masks = masks_from_scores(score("random", model, seed=3), 0.6)
    apply_masks(model, masks)
    batch = tiny_inputs(name)
    expected = model(**batch).logits
    exported = to_torch_prune(model)
    state = exported.state_dict()
    for n in masks:
        stem = n.removesuffix("weight")
        assert torch.equal(state[stem + "weight_mask"].bool(), masks[n])
        assert stem + "weight_orig" in state
    torch.testing.assert_close(exported(**batch).logits, expected)


def test_within_keeps_pruned_weights_pruned_whatever_their_new_score():
    before = {"a.0.w": torch.tensor([True, True, False, True]), "a.1.w": torch.tensor([False, True])}
    scores = {"a.0.w": torch.tensor([1.0, 2.0, 99.0, 3.0]), "a.1.w": torch.tensor([50.0, 0.5])}
    masks = masks_from_scores(scores, 0.5, within=before)  # keep 3 of 6
    assert masks["a.0.w"].tolist() == [True, True, False, True] and masks["a.1.w"].tolist() == [False, False]
    assert masks_from_scores(scores, 0.5)["a.0.w"][2]  # without `within`, 99 would come back


def _brute_force_top_k(parts, k, allowed):
    values = torch.cat([p.flatten() for p in parts]).double().numpy()
    allow = torch.cat([a.flatten() for a in allowed]).numpy() if allowed else np.ones(len(values), bool)
    index = np.flatnonzero(allow)
    order = index[np.lexsort((index, -values[index]))][:k]
    kept = np.zeros(len(values), bool)
    kept[order] = True
    return kept


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0, 1), levels=st.sampled_from([0, 3, 50, 10_000]),
       with_allowed=st.booleans(), extremes=st.booleans())
def test_threshold_from_a_sample_bracket_is_exact_on_large_groups(seed, share, levels, with_allowed, extremes):
    g = torch.Generator().manual_seed(seed)
    shapes = [(300, 97), (1000,), (64, 64)]
    parts = [torch.randn(s, generator=g) if levels == 0 else torch.randint(0, levels, s, generator=g).float()
             for s in shapes]
    if extremes:
        parts[0][0, :5] = torch.tensor([torch.inf, -torch.inf, 0.0, -0.0, torch.inf])
    allowed = [torch.rand(s, generator=g) < 0.7 for s in shapes] if with_allowed else None
    candidates = sum(int(a.sum()) for a in allowed) if allowed else sum(p.numel() for p in parts)
    k = round(share * candidates)
    masks = top_k_masks(parts, k, allowed)
    got = torch.cat([m.flatten() for m in masks]).numpy()
    assert got.sum() == k
    assert (got == _brute_force_top_k(parts, k, allowed)).all()


def test_prune_more_equals_applying_the_smaller_masks_afresh():
    from pruning.masks import mask_optimizer_state, masks_version, prune_more, pruned_since

    first = masks_from_scores(score("random", load_model("tiny-bert", 3), seed=1), 0.3)
    second = masks_from_scores(score("random", load_model("tiny-bert", 3), seed=2), 0.6, within=first)
    runs = []
    for incremental in (True, False):  # two identical trainings; they differ only in how `second` arrives
        torch.manual_seed(0)
        model = load_model("tiny-bert", 3).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        apply_masks(model, first)
        for seed in range(3):
            if seed == 2:
                before = masks_version(model)
                if incremental:
                    prune_more(model, pruned_since(first, second), optimizer)
                else:
                    apply_masks(model, second)
                    mask_optimizer_state(optimizer, model)
                assert masks_version(model) != before
                assert all(torch.equal(get_masks(model)[n], second[n]) for n in second)
            torch.manual_seed(seed)
            model(**tiny_inputs("tiny-bert", seed=seed)).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        runs.append(model)
    assert not torch.equal(first[next(iter(first))], second[next(iter(second))])  # the caller's masks not edited
    for (name, a), b in zip(runs[0].named_parameters(), runs[1].parameters(), strict=True):
        assert torch.equal(a, b), name


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), first=st.floats(0, 0.9), step=st.floats(0, 0.5),
       levels=st.sampled_from([0, 2, 7, 1000]), allocation=st.sampled_from(["global", "layer", "module", "row"]))
def test_prune_lowest_equals_masks_from_scores_within_the_kept(seed, first, step, levels, allocation):
    from pruning.masks import prune_lowest, pruned_since

    g = torch.Generator().manual_seed(seed)
    shapes = {"enc.layer.0.q.weight": (120, 97), "enc.layer.0.ffn.weight": (64, 40), "enc.layer.1.q.weight": (90, 90),
              "pooler.weight": (3, 8)}
    weights = {n: PrunableWeight(n, {"pooler.weight": None}.get(n, int(n.split(".")[2]) if "layer" in n else None),
                                 "q", None) for n in shapes}
    scores = {n: torch.rand(s, generator=g) if levels == 0 else torch.randint(0, levels, s, generator=g).float()
              for n, s in shapes.items()}
    kept = masks_from_scores({n: torch.rand(s, generator=g) for n, s in shapes.items()}, first, allocation,
                             weights=weights)
    sparsity = min(1.0, first + step)
    expected = masks_from_scores(scores, sparsity, allocation, within=kept, weights=weights)
    new, removed = prune_lowest(scores, kept, sparsity, allocation, weights)
    assert all(torch.equal(new[n], expected[n]) for n in shapes)
    assert all(torch.equal(removed[n].sort().values, pruned_since(kept, expected)[n]) for n in shapes)
    assert all(torch.equal(kept[n], kept[n]) for n in shapes)


def test_no_pool_is_held_where_it_would_hold_more_than_most_of_the_kept():
    """A step that prunes a large share searches all kept entries and holds no indices; a later,
    smaller step fills a pool of at most `most` of them; both prune exactly the lowest."""
    from pruning.masks import GrowingPool

    g = torch.Generator().manual_seed(0)
    scores = {"a.weight": torch.rand(100, 100, generator=g)}
    kept = {"a.weight": torch.ones(100, 100, dtype=torch.bool)}
    pool = GrowingPool(ahead=8, least=16, most=0.25)
    for sparsity, pooled in ((0.2, False), (0.21, True)):  # r = 2,000 then 100 of 8,000 kept
        scores["a.weight"] += torch.rand(100, 100, generator=g) * kept["a.weight"]
        expected = masks_from_scores(scores, sparsity, "global", within=kept)
        pool.prune(scores, kept, sparsity)
        assert torch.equal(kept["a.weight"], expected["a.weight"])
        assert (pool.index is not None) == pooled
    assert sum(i.numel() for i in pool.index) <= 0.25 * 8_000


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), first=st.floats(0, 0.5), levels=st.sampled_from([0, 3, 1000]),
       least=st.sampled_from([1, 64, 4096]), steps=st.integers(1, 12), most=st.sampled_from([0.25, 1.0]))
def test_the_growing_pool_prunes_what_masks_from_scores_prunes_step_after_step(seed, first, levels, least, steps,
                                                                               most):
    """Scores that only grow (random non-negative increments, heavy ties when levels is small):
    at every step the pool's masks equal masks_from_scores within the kept, and what it reports
    removed is exactly what changed."""
    from pruning.masks import GrowingPool, pruned_since

    g = torch.Generator().manual_seed(seed)
    shapes = {"a.weight": (50, 31), "b.weight": (7, 90), "c.weight": (3, 8)}

    def increment(shape):
        return torch.rand(shape, generator=g) if levels == 0 else torch.randint(0, levels, shape, generator=g).float()

    scores = {n: increment(s) for n, s in shapes.items()}
    kept = masks_from_scores(scores, first, "global")
    pool = GrowingPool(ahead=2, least=least, most=most)
    for sparsity in torch.linspace(first, 0.95, steps + 1)[1:].tolist():
        for n, s in shapes.items():
            scores[n] += increment(s) * kept[n]
        expected = masks_from_scores(scores, sparsity, "global", within=kept)
        before = {n: m.clone() for n, m in kept.items()}
        removed = pool.prune(scores, kept, sparsity)
        assert all(torch.equal(kept[n], expected[n]) for n in shapes)
        assert all(torch.equal(removed[n].sort().values, pruned_since(before, expected)[n]) for n in shapes)
