"""GraSP (Wang et al. 2020) on the pretrained weights, via a Hessian-vector product.

Over the scoring batches B: ḡ = (1/|B|) Σ_b g_b (no graph), then
    H ḡ = (1/|B|) Σ_b ∇_θ (g_b(θ) · ḡ)          (double backward, ḡ held constant)
GraSP removes the weights with the highest −θ ⊙ Hḡ (pruning them reduces gradient flow
least), so the kept-is-higher score is S = θ ⊙ Hḡ. `temperature` divides the logits (the
authors use 200 on CIFAR; 1 leaves the loss as fine-tuning sees it). One-shot only.
"""

from dataclasses import dataclass

import torch
from torch.nn import functional
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..distributed import local_rows, scaled, sum_
from ..options import option
from .base import Method, Scorer, Variant, register


@dataclass(frozen=True)
class GraspHparams:
    temperature: float = option(1.0, "divides the logits of the scoring loss (the authors: 200)", "(0, inf)")


class GraspScorer(Scorer):
    def __init__(self, params, hparams: GraspHparams):
        super().__init__(params, hparams)
        self.temperature = hparams.temperature
        self.hg = {name: torch.zeros_like(p) for name, p in params.items()}

    def _loss(self, model, batch) -> torch.Tensor:
        """This process's share of the batch's loss (pruning.distributed): gradients sum over processes."""
        batch, share = local_rows(batch)
        if self.temperature == 1.0:
            return scaled(model(**batch).loss, share)
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return scaled(functional.cross_entropy(model(**inputs).logits / self.temperature, batch["labels"]), share)

    def accumulate(self, model, batches) -> None:
        batches = list(batches)
        params = list(self.params.values())
        mean_grad = [torch.zeros_like(p) for p in params]
        for batch in batches:
            grads = list(torch.autograd.grad(self._loss(model, batch), params))
            sum_(grads)
            torch._foreach_add_(mean_grad, grads, alpha=1 / len(batches))
        for batch in batches:
            with sdpa_kernel(SDPBackend.MATH):  # the fused attention kernels have no double backward
                grads = torch.autograd.grad(self._loss(model, batch), params, create_graph=True)
                dot = sum((g * fixed).sum() for g, fixed in zip(grads, mean_grad, strict=True))
                hessian_products = list(torch.autograd.grad(dot, params))
            sum_(hessian_products)
            torch._foreach_add_(list(self.hg.values()), hessian_products, alpha=1 / len(batches))

    def update(self, weights=None) -> None:
        raise NotImplementedError("GraSP needs two passes over its batches; use accumulate()")

    def scores(self) -> dict[str, torch.Tensor]:
        return {name: p.detach() * self.hg[name] for name, p in self.params.items()}

register(Method(
    "grasp", "θ⊙Hḡ: keep weights whose removal would most reduce gradient flow", needs="hessian-vector",
    scorer=GraspScorer, hparams=GraspHparams, variants=(
        Variant("GraSP", "one-shot", "#8c564b"),
        Variant("GraSP (T = 200)", "one-shot", "#c49c94", hparams={"temperature": 200.0}),
    ),
))
