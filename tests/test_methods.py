"""Magnitude and random scores against their definitions; the registry feeds the API and the CLI."""

import pytest
import torch

from pruning import METHODS, prunable_parameters, score
from pruning.models import load_model


def test_every_method_file_is_registered_by_discovery():
    import pkgutil

    import pruning.methods

    files = {m.name for m in pkgutil.iter_modules(pruning.methods.__path__)} - {"base"}
    assert {name.replace("-", "_") for name in METHODS} == files


def test_magnitude_is_absolute_weight():
    model = load_model("tiny-bert", 2)
    scores = score("magnitude", model)
    params = prunable_parameters(model)
    assert scores.keys() == params.keys()
    for n, p in params.items():
        assert torch.equal(scores[n], p.detach().abs())
        assert scores[n].data_ptr() != p.data_ptr()  # a copy: pruning later cannot change it


def test_random_is_seeded_uniform():
    model = load_model("tiny-bert", 2)
    a, b, c = (score("random", model, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(a[n], c[n]) for n in a)
    values = torch.cat([v.flatten() for v in a.values()])
    assert values.min() >= 0 and values.max() < 1 and abs(values.mean() - 0.5) < 0.01


def test_unknown_method_and_hparam_are_named():
    model = load_model("tiny-bert", 2)
    with pytest.raises(ValueError, match=", ".join(METHODS)):
        score("snap", model)
    with pytest.raises(ValueError, match=r"prune\.hparams\.beta: unknown to random; allowed: seed"):
        score("random", model, beta=0.3)
    with pytest.raises(ValueError, match="wanda chooses its masks itself"):
        score("wanda", model)
