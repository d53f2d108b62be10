"""Solution Path Pruning: one differential-inclusion run on structured masks, every sparsity.

Weights stay frozen (no weight gradient is computed); only the QK, VO and FFN masks M of
structured.py learn. Variant "paper" (linearized Bregman iteration), with Z = Γ = 0, M = 1:
    L̄(M, Γ) = L(W, M) + ‖M − Γ‖² / (2ν)
    M ← M − κ·α·∇_M L̄
    Z ← Z + (α/ν)·(M − Γ)
    Γ ← κ·shrink(Z, λ),   shrink(z, λ) = sign(z)·max(|z| − λ, 0)
Entries of Γ leave zero one after another; an entry's rank is its first join step (ties and
entries that never join: larger final |Z| first, then index), so read-offs are nested.
Variant "code" (the authors' DeiT code): M trained by AdamW on the task loss alone (lr, cosine
schedule, eps 1e-4, no weight decay); Z ← Z + s_k·(M − Γ) with s_k = lr_k/(1 − 0.9^k) and M
already updated; Γ = max(Z − λ, 0); rank = number of checks (every `check_every` steps) an
entry spent with Γ ≠ 0. Masks sit where structured.py puts them in both variants.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from analysis.solution_path import SolutionPath

from ..checkpoint import Checkpoint, load_optimizer_state, optimizer_state
from ..structured import Entries, mask_gradient, masked, structured_blocks
from .base import StructuredMethod, register

VARIANTS = ("paper", "code")


@dataclass(frozen=True)
class SPPSettings:
    """The dynamics. `alpha`, `nu`, `kappa`, `lam`: the paper's α, ν, κ, λ (for "code": κ = 1,
    λ = `lam`, 3 unless set, and `lr` drives AdamW). Γ is stored at `checkpoints` evenly spaced steps.
    Defaults: set on fine-tuned MiniLM, whose mask gradients are 1e-4..1e-2; with κα/ν = 0.02
    an idle entry's M decays by e⁻¹ every 50 steps and its Z stays below λ = 1/κ, while entries
    the loss defends (M ≈ −ν·∂L/∂M) join over steps 40-200."""

    variant: str = field(default="paper", metadata={"choices": VARIANTS})
    steps: int = 200
    alpha: float = 5.0
    nu: float = 250.0
    kappa: float = 1.0
    lam: float | None = None
    lr: float = 1e-3
    check_every: int = 10
    checkpoints: int = 100

    def __post_init__(self):
        checks = [("variant", self.variant in VARIANTS, f"one of {', '.join(VARIANTS)}"),
                  ("steps", self.steps >= 1, ">= 1"), ("alpha", self.alpha > 0, "> 0"),
                  ("nu", self.nu > 0, "> 0"), ("kappa", self.kappa > 0, "> 0"),
                  ("lam", self.lam is None or self.lam >= 0, ">= 0"),
                  ("lr", self.lr > 0, "> 0"), ("check_every", self.check_every >= 1, ">= 1"),
                  ("checkpoints", self.checkpoints >= 1, ">= 1")]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"spp.{name}: {getattr(self, name)!r} is not allowed; must be {allowed}")

    @property
    def threshold(self) -> float:
        """λ: `lam`, else 1 ("paper", with κ = 1 an idle entry's Z stays below it) or 3 ("code")."""
        return self.lam if self.lam is not None else {"paper": 1.0, "code": 3.0}[self.variant]

    def checkpoint_steps(self) -> list[int]:
        count = min(self.checkpoints, self.steps)
        return sorted({round((i + 1) * self.steps / count) for i in range(count)})


@dataclass
class Search:
    """What the dynamics leave: per entry its first join step (−1: never), final Z and check
    count; Γ at each checkpoint (entries x checkpoints); the mean of ∂L/∂M and of |∂L/∂M| over
    the search's steps (the gradients it computed anyway)."""

    join_step: np.ndarray
    z: np.ndarray
    checks: np.ndarray
    gamma: np.ndarray
    steps: list[int]
    grad_mean: np.ndarray
    grad_abs: np.ndarray


def shrink(z: torch.Tensor, lam: float) -> torch.Tensor:
    return z.sign() * (z.abs() - lam).clamp(min=0)


def search(gradient: Callable[[torch.Tensor], torch.Tensor], size: int, settings: SPPSettings,
           on_checkpoint: Callable[[int, torch.Tensor], None] | None = None,
           on_step: Callable[[int], None] | None = None, device: torch.device | str = "cpu",
           resume: tuple[int, dict] | None = None, save: tuple[int, Callable[[int, dict], None]] | None = None,
           ) -> Search:
    """Run the dynamics on a flat mask of `size` entries (on `device`); `gradient(M)` returns ∇_M L.
    `resume`: (steps done, state) of a save; `save`: (every, save(k, state)), called every
    `every` steps and at the last."""
    s = settings
    m = torch.ones(size, device=device)
    z, gamma = torch.zeros(size, device=device), torch.zeros(size, device=device)
    join = torch.full((size,), -1, dtype=torch.long, device=device)
    checks = torch.zeros(size, dtype=torch.long, device=device)
    checkpoints, snapshots = s.checkpoint_steps(), []
    grad_sum, grad_abs_sum = torch.zeros(size, device=device), torch.zeros(size, device=device)
    if s.variant == "code":
        m.requires_grad_(True)
        optimizer = torch.optim.AdamW([m], lr=s.lr, eps=1e-4, weight_decay=0.0)
    first = 1
    if resume is not None:
        first, state = resume[0] + 1, resume[1]
        with torch.no_grad():
            for tensor, name in ((m, "m"), (z, "z"), (join, "join"), (checks, "checks"), (grad_sum, "grad_sum"),
                                 (grad_abs_sum, "grad_abs_sum")):
                tensor.copy_(state[name])
        gamma, snapshots = state["gamma"], state["snapshots"]
        if s.variant == "code":
            load_optimizer_state(optimizer, state["optimizer"])
    for k in range(first, s.steps + 1):
        grad = gradient(m)
        with torch.no_grad():
            grad_sum += grad
            grad_abs_sum += grad.abs()
            if s.variant == "paper":
                m -= s.kappa * s.alpha * (grad + (m - gamma) / s.nu)
                z += (s.alpha / s.nu) * (m - gamma)
                gamma = s.kappa * shrink(z, s.threshold)
            else:
                lr = 0.5 * s.lr * (1 + math.cos(math.pi * (k - 1) / s.steps))
                optimizer.param_groups[0]["lr"] = lr
                m.grad = grad
                optimizer.step()
                z += lr / (1 - 0.9 ** k) * (m - gamma)
                gamma = (z - s.threshold).clamp(min=0)
                if k % s.check_every == 0:
                    checks += gamma != 0
            join[(join < 0) & (gamma != 0)] = k
        if k in checkpoints:
            snapshots.append(gamma.clone())
            if on_checkpoint:
                on_checkpoint(k, gamma)
        if on_step:
            on_step(k)
        if save is not None and (k % save[0] == 0 or k == s.steps):
            save[1](k, {"m": m, "z": z, "gamma": gamma, "join": join, "checks": checks, "grad_sum": grad_sum,
                        "grad_abs_sum": grad_abs_sum, "snapshots": snapshots,
                        "optimizer": optimizer_state(optimizer) if s.variant == "code" else None})
    return Search(join.cpu().numpy(), z.cpu().numpy(), checks.cpu().numpy(), torch.stack(snapshots, 1).cpu().numpy(),
                  checkpoints, (grad_sum / s.steps).cpu().numpy(), (grad_abs_sum / s.steps).cpu().numpy())


ORDERS = ("path", "gradient")


def ranking(found: Search, variant: str, steps: int, order: str = "path") -> tuple[np.ndarray, np.ndarray]:
    """(rank, priority). order "path" (the paper's): priority is −(first join step) ("paper",
    never joined: −(steps + 1)) or the check count ("code"); rank orders by priority, then larger
    |Z| (larger Z for the one-sided "code" variant, where a negative Z is furthest from joining),
    then index. order "gradient" (ours): priority = the mean |∂L/∂M| over the search, then index."""
    if order == "gradient":
        priority = found.grad_abs.astype(np.float64)
        closeness = np.zeros_like(priority)
    elif variant == "paper":
        priority = np.where(found.join_step >= 0, -found.join_step, -(steps + 1)).astype(np.float64)
        closeness = np.abs(found.z)
    else:
        priority = found.checks.astype(np.float64)
        closeness = found.z
    order = np.lexsort((np.arange(len(priority)), -closeness, -priority))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank, priority


def solution_path(model: nn.Module, batches: Iterable[dict], evaluate: Callable[[nn.Module], dict] | None = None,
                  on_step: Callable[[int, int], None] | None = None, order: str = "path",
                  checkpoint: Checkpoint | None = None, **hparams) -> SolutionPath:
    """Search the path of `model` (a fine-tuned classifier) on `batches` (an endless iterable)
    with weights frozen. `evaluate(model)` -> {"loss", "accuracy"} runs at each checkpoint on
    the support of Γ (entries with Γ ≠ 0 kept, the rest removed). `order`: how entries are
    ranked (ranking()). `checkpoint`: continue from its save, save every `checkpoint.every`
    steps. `hparams`: SPPSettings."""
    if order not in ORDERS:
        raise ValueError(f"order: {order!r} is not one of {', '.join(ORDERS)}")
    settings = SPPSettings(**hparams)
    blocks = structured_blocks(model)
    entries = Entries(blocks)
    stream = iter(batches)
    gradient = mask_gradient(model, blocks, entries, stream)
    device = next(model.parameters()).device
    metrics = []
    resume = checkpoint.load(device) if checkpoint else None
    if resume is not None:
        metrics = resume[1]["metrics"]
        for _ in range(resume[0]):  # one batch a step
            next(stream)
    save = (checkpoint.every, lambda k, state: checkpoint.save(k, {**state, "metrics": metrics})) \
        if checkpoint and checkpoint.every > 0 else None
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    for param, _ in frozen:
        param.requires_grad_(False)
    was_training = model.training
    model.eval()

    def evaluate_support(_step: int, gamma: torch.Tensor) -> None:
        if evaluate is not None:
            with torch.no_grad(), masked(model, entries.split((gamma != 0).float()), blocks):
                metrics.append(evaluate(model))

    try:
        found = search(gradient, entries.size, settings, evaluate_support,
                       (lambda k: on_step(k, settings.steps)) if on_step else None, device, resume, save)
    finally:
        for param, flag in frozen:
            param.requires_grad_(flag)
        model.train(was_training)
    rank, priority = ranking(found, settings.variant, settings.steps, order)
    nan = [float("nan")] * len(found.steps)
    return SolutionPath(
        blocks=tuple(b.name for b in blocks), **entries.arrays, rank=rank, priority=priority,
        join_step=found.join_step, gamma=found.gamma.astype(np.float32), steps=np.array(found.steps),
        loss=np.array([r["loss"] for r in metrics]) if metrics else np.array(nan),
        accuracy=np.array([r["accuracy"] for r in metrics]) if metrics else np.array(nan),
        grad_mean=found.grad_mean.astype(np.float32), grad_abs=found.grad_abs.astype(np.float32),
        hparams={**asdict(settings), "lam": settings.threshold, "order": order},
    )


def _path(order: str) -> Callable[..., SolutionPath]:
    """solution_path ranked by `order`, with the SPPSettings fields of a structured run's config."""
    names = {f.name for f in fields(SPPSettings)}

    def path(model: nn.Module, batches: Iterable[dict], evaluate=None, on_step=None, checkpoint=None,
             **config) -> SolutionPath:
        settings = {k: v for k, v in config.items() if k in names}
        return solution_path(model, batches, evaluate, on_step, order, checkpoint, **settings)

    return path


register(StructuredMethod(
    "SPP", "one differential-inclusion search on the masks: an entry's rank is when it joins the path",
    color="#d62728", needs="gradients", path=_path("path"),
))
register(StructuredMethod(
    "SPP, |∂L/∂M| order (ours)", "the same search, entries ranked by the mean |∂L/∂M| it computed along the way",
    color="#ff7f0e", needs="gradients", path=_path("gradient"),
))
