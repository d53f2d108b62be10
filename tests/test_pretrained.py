"""The real pretrained all-MiniLM-L6-v2 from its package, offline, and the demo's plan."""

import pytest
import torch

from pruning import apply_masks, masks_from_scores, prunable_parameters, score
from pruning.demo import DEMO_METHODS, DEMO_SPARSITIES, demo_configs
from pruning.models import load_model, load_tokenizer

pytestmark = pytest.mark.slow


def test_minilm_loads_offline_with_36_prunable_matrices_and_masks_exactly():
    model = load_model("minilm", 2).eval()
    params = prunable_parameters(model)
    assert len(params) == 6 * 6  # 6 blocks x (q, k, v, out, ffn in, ffn out); its untrained pooler is head
    assert sum(p.numel() for p in params.values()) == 10_764_288 - 384 * 384
    with_pooler = prunable_parameters(load_model("minilm", 2, pooler="prune"))
    assert len(with_pooler) == 37 and "bert.pooler.dense.weight" in with_pooler
    tokens = load_tokenizer("minilm")(["a gorgeous, witty film", "dull and lifeless"],
                                       return_tensors="pt", padding=True)
    dense = model(**tokens).logits
    apply_masks(model, {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()})
    assert torch.equal(model(**tokens).logits, dense)
    masks = masks_from_scores(score("magnitude", model), 0.7)
    apply_masks(model, masks)
    zeros = sum(int((p == 0).sum()) for p in params.values())
    assert zeros >= round(0.7 * (10_764_288 - 384 * 384))
    assert not torch.equal(model(**tokens).logits, dense)


def test_demo_plan_is_the_dense_run_then_each_method_at_each_sparsity_then_the_spp_path():
    configs = demo_configs()
    assert configs[0].prune is None and configs[0].model.name == "minilm"
    assert configs[0].data.name == "movie-reviews"
    pruned = [(c.prune.method, c.prune.sparsity) for c in configs[1:-3]]
    assert pruned == [(m, s) for m in DEMO_METHODS for s in DEMO_SPARSITIES]
    assert configs[-3].spp is not None and configs[-3].prune is None
    assert {c.dense_config().run_id for c in configs[1:-2]} == {configs[0].run_id}
    assert [(c.model.name, c.data.name, c.prune) for c in configs[-2:]] == [
        ("tiny-vit", "fashion-mnist", None), ("small-cnn", "fashion-mnist", None)]
