"""SparseGPT against a brute-force OBS reference on one layer (explicit inverses, one weight at a
time), and what its reconstruction buys on the layer's own calibration inputs."""

import pytest
import torch

from pruning import METHODS
from pruning.methods.sparsegpt import inverse_factor, reconstruct
from pruning.models import load_model

from .conftest import tiny_inputs


def _layer(rows=5, columns=8, tokens=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, columns, generator=g, dtype=torch.float64)
    x = torch.randn(tokens, columns, generator=g, dtype=torch.float64) @ torch.randn(columns, columns, generator=g,
                                                                                     dtype=torch.float64)
    return w, x


def _brute_force_obs(w, x, sparsity, block, damp, pattern=None):
    """SparseGPT by its definition: for each column j in order, F = {j, …, last}; the OBS error
    of removing w_rj is w_rj² / [(H_FF)⁻¹]_00, and removing it moves the row's remaining weights
    by −w_rj / [(H_FF)⁻¹]_00 · (H_FF)⁻¹[0, :]. Masks are chosen at each block's start (or per
    group of M columns) on the weights as they are then."""
    h = x.t() @ x
    h = h + damp * torch.diag(h).mean() * torch.eye(len(h), dtype=h.dtype)
    w = w.clone()
    rows, columns = w.shape
    inverses = [torch.linalg.inv(h[j:, j:]) for j in range(columns)]
    error_scale = torch.tensor([inv[0, 0] for inv in inverses])
    mask = torch.ones_like(w, dtype=torch.bool)
    for start in range(0, columns, block):
        end = min(start + block, columns)
        if pattern is None:
            saliency = (w[:, start:end] ** 2 / error_scale[start:end]).flatten()
            keep = round((1 - sparsity) * rows * end) - round((1 - sparsity) * rows * start)
            order = sorted(range(len(saliency)), key=lambda i: (-float(saliency[i]), i))
            block_mask = torch.zeros(len(saliency), dtype=torch.bool)
            block_mask[order[:keep]] = True
            mask[:, start:end] = block_mask.reshape(rows, end - start)
        for j in range(start, end):
            if pattern is not None and (j - start) % pattern[1] == 0:
                n, m = pattern
                for r in range(rows):
                    saliency = w[r, j:j + m] ** 2 / error_scale[j:j + m]
                    order = sorted(range(m), key=lambda i: (-float(saliency[i]), i))
                    mask[r, j:j + m] = False
                    mask[r, [j + i for i in order[:n]]] = True
            inverse = inverses[j]
            for r in range(rows):
                if not mask[r, j]:
                    w[r, j:] -= w[r, j] / inverse[0, 0] * inverse[0, :]
    return w, mask


@pytest.mark.parametrize("sparsity, block, pattern", [(0.5, 8, None), (0.6, 4, None), (0.3, 3, None),
                                                      (0.5, 8, (2, 4)), (0.5, 4, (2, 4))])
def test_reconstruction_equals_brute_force_obs(sparsity, block, pattern):
    w, x = _layer()
    allocation = "module" if pattern is None else f"{pattern[0]}:{pattern[1]}"
    expected_w, expected_mask = _brute_force_obs(w, x, sparsity, block, 0.01, pattern)
    new, mask, scores = reconstruct(w, inverse_factor(x.t() @ x, 0.01), sparsity, allocation, block)
    assert torch.equal(mask, expected_mask)
    torch.testing.assert_close(new, expected_w, rtol=1e-9, atol=1e-10)
    assert not new[~mask].any() and int(mask.sum()) == round((1 - sparsity) * w.numel())
    assert torch.isfinite(scores).all()


def test_reconstruction_lowers_the_layer_output_error_of_its_own_mask():
    w, x = _layer(rows=16, columns=32, tokens=200, seed=3)
    new, mask, _ = reconstruct(w, inverse_factor(x.t() @ x, 0.01), 0.6, "module", 8)
    masked_only = ((x @ w.t() - x @ (w * mask).t()) ** 2).sum()
    reconstructed = ((x @ w.t() - x @ new.t()) ** 2).sum()
    assert reconstructed < 0.7 * masked_only


def test_nothing_pruned_changes_nothing_and_dead_inputs_are_safe():
    w, x = _layer()
    x[:, 2] = 0.0  # an input never seen: XᵀX has a zero row, column and diagonal entry
    new, mask, _ = reconstruct(w, inverse_factor(x.t() @ x, 0.01), 0.0, "module", 4)
    assert mask.all() and torch.equal(new, w)
    new, mask, _ = reconstruct(w, inverse_factor(x.t() @ x, 0.01), 0.5, "module", 4)
    assert torch.isfinite(new).all() and int(mask.sum()) == w.numel() // 2


def test_in_a_model_every_matrix_keeps_its_share_and_is_reconstructed():
    torch.manual_seed(0)
    model = load_model("tiny-bert", 3).double()
    dense = {n: p.detach().clone() for n, p in model.named_parameters()}
    batches = [tiny_inputs("tiny-bert", seed=s) for s in range(3)]
    masks, _ = METHODS["sparsegpt"].prune_once(model, batches, 0.5, "module", block_size=16)
    for name, mask in masks.items():
        assert int(mask.sum()) == round(0.5 * mask.numel()), name
    changed = [n for n in masks if not torch.equal(dict(model.named_parameters())[n][masks[n]], dense[n][masks[n]])]
    assert len(changed) == len(masks)  # every matrix was reconstructed
    with pytest.raises(ValueError, match="multiples of 4"):
        METHODS["sparsegpt"].prune_once(load_model("tiny-bert", 3), batches, 0.5, "2:4", block_size=6)
