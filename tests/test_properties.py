"""Properties over random inputs (hypothesis): NaN scores refused, the density schedules, the
solution path's read-off, and the store's validator under random damage to every artifact."""

import itertools
import shutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.solution_path import SolutionPath
from analysis.store import list_runs, read_run
from pruning import masks_from_scores
from pruning.schedules import cubic_density, exponential_density


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), where=st.integers(0, 10_000), allocation=st.sampled_from(["global", "module"]),
       value=st.sampled_from([float("nan"), float("inf"), -float("inf")]))
def test_nan_scores_are_refused_and_infinite_ones_ranked(seed, where, allocation, value):
    """A NaN anywhere is refused, naming its tensor; ±inf are ordinary extremes, ranked."""
    g = torch.Generator().manual_seed(seed)
    scores = {"a.weight": torch.rand(7, 9, generator=g), "b.weight": torch.rand(5, 3, generator=g)}
    name = ["a.weight", "b.weight"][where % 2]
    scores[name].view(-1)[where % scores[name].numel()] = value
    if value != value:
        with pytest.raises(ValueError, match=f"scores\\['{name}'\\] contains NaN"):
            masks_from_scores(scores, 0.5, allocation)
        return
    masks = masks_from_scores(scores, 0.5, allocation)
    flat = scores[name].view(-1)[where % scores[name].numel()]
    assert bool(masks[name].view(-1)[where % scores[name].numel()]) == (flat > 0)


@given(final=st.floats(0, 1), start=st.integers(0, 50), duration=st.integers(1, 200), total=st.integers(1, 200))
def test_densities_fall_monotonically_from_one_to_the_final_density(final, start, duration, total):
    cubic = [cubic_density(t, final, start, duration) for t in range(start + duration + 2)]
    assert cubic[0] == 1.0 and cubic[-1] == final and cubic[start] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(cubic))
    exponential = [exponential_density(i, total, final) for i in range(total + 1)]
    assert exponential[0] == 1.0 and exponential[-1] == pytest.approx(final)
    assert all(a >= b for a, b in itertools.pairwise(exponential))


def _random_path(seed: int, entries: int) -> SolutionPath:
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, entries)
    block = rng.integers(0, 2, entries)
    index = np.zeros(entries, np.int64)
    for b in range(2):
        for k in range(3):
            rows = (block == b) & (kind == k)
            index[rows] = np.arange(rows.sum())
    priority = rng.normal(size=entries)
    return SolutionPath(blocks=("b0", "b1"), block=block, kind=kind, index=index,
                        weight=rng.integers(1, 50, entries).astype(np.int64), rank=np.argsort(np.argsort(-priority)),
                        priority=priority, join_step=np.full(entries, -1), gamma=np.zeros((entries, 0), np.float32),
                        steps=np.zeros(0, np.int64), loss=np.zeros(0), accuracy=np.zeros(0))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), entries=st.integers(1, 300), low=st.floats(0, 1), high=st.floats(0, 1))
def test_read_offs_meet_the_budget_within_one_entry_and_are_nested(seed, entries, low, high):
    path = _random_path(seed, entries)
    low, high = min(low, high), max(low, high)
    dense, sparse = path.masks_at(low), path.masks_at(high)
    for keep, sparsity in ((dense, low), (sparse, high)):
        assert sparsity - path.weight.max() / path.total_params < path.sparsity_of(keep) <= sparsity + 1e-12
    assert not (sparse & ~dense).any()  # a sparser read-off keeps a subset
    ranked = np.argsort(path.rank)
    assert dense[ranked].tolist() == sorted(dense[ranked].tolist(), reverse=True)  # a prefix of the ranking
    for budget in ("per_pool", "authors"):
        assert not (path.masks_at(high, budget) & ~path.masks_at(low, budget)).any()


def _damage(data: bytes, how: str, at: float) -> bytes:
    cut = int(at * len(data))
    if how == "truncate":
        return data[:cut]
    if how == "flip" and data:
        return data[:cut] + bytes([data[min(cut, len(data) - 1)] ^ 0xFF]) + data[cut + 1:]
    return data + b"\x00" * (1 + cut % 7)  # padded


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10_000), how=st.sampled_from(["truncate", "flip", "pad"]), at=st.floats(0, 1))
def test_the_store_survives_random_damage_to_any_artifact(smoke_runs, tmp_path_factory, pick, how, at):
    """Any file of any run, truncated, padded or with a byte flipped: reading never raises, the
    run is listed, and damage to its safetensors or to its manifest's size always shows as
    broken (a flipped byte inside parquet data can go unseen: its checksums are optional)."""
    files = sorted(f for run in list_runs(smoke_runs) for f in run.path.iterdir())
    file = files[pick % len(files)]
    root = tmp_path_factory.mktemp("damaged")
    copy = root / file.parent.name
    shutil.copytree(file.parent, copy)
    original = (copy / file.name).read_bytes()
    damaged = _damage(original, how, at)
    (copy / file.name).write_bytes(damaged)
    [run] = list_runs(root)
    assert run.run_id == file.parent.name and read_run(copy).status == run.status
    if damaged != original and file.suffix == ".safetensors" and how != "flip":
        assert run.status == "broken" and file.name in run.problem
    if damaged != original and file.name == "manifest.json" and how == "truncate":
        assert run.status == "broken"
