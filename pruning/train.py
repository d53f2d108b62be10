"""The one fine-tuning loop: AdamW, warm-up then linear or cosine decay, periodic evaluation.

Learning rate at step t of T with W = round(warmup·T) warm-up steps:
    lr(t) = lr·t/W                     for t < W
    lr(t) = lr·f((t − W)/(T − W))      afterwards, f(x) = 1 − x (linear), (1 + cos πx)/2
                                       (cosine) or 1 (constant).
Methods that prune during fine-tuning hook in as callbacks: `after_backward` sees the
gradients of the step before the optimizer uses them; `on_step_end` may call
`state.set_masks(...)`, which applies the masks and zeroes the optimizer state there.
With a checkpoint (pruning.checkpoint), the loop saves the model, the optimizer, the schedule,
the random generators, its history and every callback's state, and continues from a saved one.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import Checkpoint, load_optimizer_state, load_rng_state, optimizer_state, rng_state
from .data import Encoded
from .distributed import local_rows, scaled, sum_gradients
from .masks import apply_masks, get_masks, mask_optimizer_state
from .metrics import classification_metrics

DECAYS = ("linear", "cosine", "constant")


class Divergence(RuntimeError):
    """The loss or the gradient turned NaN or infinite: the run stops and is recorded failed."""


@dataclass
class TrainConfig:
    """A fine-tuning budget. `steps` = 0 skips fine-tuning; `eval_every` = 0 evaluates at the end."""

    steps: int = 0
    lr: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup: float = 0.1
    decay: str = field(default="linear", metadata={"choices": DECAYS})
    eval_every: int = 0
    max_grad_norm: float = 1.0


def lr_factor(step: int, total: int, warmup: float, decay: str) -> float:
    """The multiplier of the base learning rate at `step` (0-based) of `total`."""
    warm = round(warmup * total)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    if decay == "linear":
        return max(0.0, 1.0 - progress)
    if decay == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


@dataclass
class TrainState:
    """What a callback sees: the model and optimizer mid-training, and the step (0-based)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    step: int
    total_steps: int
    loss: float = float("nan")

    def set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        apply_masks(self.model, masks)
        mask_optimizer_state(self.optimizer, self.model)


class Callback:
    """Hooks into the loop; every method is optional."""

    def on_train_start(self, state: TrainState) -> None:
        """Before the first step."""

    def after_backward(self, state: TrainState) -> None:
        """Gradients of this step are in `.grad` (masked); the optimizer has not stepped yet."""

    def on_step_end(self, state: TrainState) -> None:
        """After the optimizer step."""

    def state(self, model: nn.Module):
        """What a checkpoint keeps of the callback (pruning.checkpoint.pack's tree); None: nothing."""

    def restore(self, state, model: nn.Module) -> None:
        """Continue from `state()`'s tree, the model and its masks already restored."""


@torch.no_grad()
def evaluate(model: nn.Module, data: Encoded, batch_size: int = 128) -> dict[str, float]:
    """loss, accuracy, macro F1 and MCC of `model` on `data` (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    losses, predictions = [], []
    for batch in data.batches(batch_size):
        out = model(**batch)
        losses.append(float(out.loss) * len(batch["labels"]))
        predictions.append(out.logits.argmax(-1).cpu())
    model.train(was_training)
    num_classes = model.config.num_labels
    metrics = classification_metrics(data.labels.cpu().numpy(), torch.cat(predictions).numpy(), num_classes)
    return {"loss": float(np.sum(losses) / len(data)), **metrics}


def endless_batches(data: Encoded, batch_size: int, seed: int) -> Iterator[dict]:
    """Shuffled batches, epoch after epoch, in an order fixed by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield from data.batches(batch_size, generator)


@dataclass
class History:
    """Evaluations during fine-tuning: (step, metrics) pairs, plus the training loss per step."""

    evaluations: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)


def finetune(
    model: nn.Module,
    train: Encoded,
    config: TrainConfig,
    seed: int,
    evaluate_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    callbacks: tuple[Callback, ...] = (),
    description: str = "fine-tune",
    on_progress: Callable[[int, int, float], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> History:
    """Fine-tune `model` in place for `config.steps` steps; masks already applied stay enforced.
    `on_progress(done, total, loss)` after every step.
    With `checkpoint`, continue from its last save and save every `checkpoint.every` steps."""
    history = History()
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config.steps, config.warmup, config.decay)
    )
    state = TrainState(model, optimizer, 0, config.steps)
    batches = endless_batches(train, config.batch_size, seed)
    model.train()
    for callback in callbacks:
        callback.on_train_start(state)
    saved = checkpoint.load(next(model.parameters()).device) if checkpoint else None
    first = 0
    if saved is not None:
        first = saved[0]
        _restore(saved[1], state, schedule, history, callbacks)
        for _ in range(first):  # the batches the saved steps read
            next(batches)
    bar = tqdm(range(first, config.steps), desc=description, unit="step", leave=False, dynamic_ncols=True)
    for step in bar:
        state.step = step
        rows, share = local_rows(next(batches))
        loss = scaled(model(**rows).loss, share)
        loss.backward()
        loss = sum_gradients(model, loss)  # torchrun: the global batch's gradients and loss
        if not torch.isfinite(loss):
            raise Divergence(f"{description}: the loss is {loss.item()} at step {step}")
        state.loss = loss.item()
        history.train_loss.append(state.loss)
        for callback in callbacks:
            callback.after_backward(state)
        norm = nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
        if not torch.isfinite(norm):
            raise Divergence(f"{description}: the gradient norm is {norm.item()} at step {step}")
        if config.max_grad_norm > 0:  # what clip_grad_norm_ does, with the norm already at hand
            nn.utils.clip_grads_with_norm_(model.parameters(), config.max_grad_norm, norm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        for callback in callbacks:
            callback.on_step_end(state)
        done = step + 1
        bar.set_postfix(loss=f"{state.loss:.3f}")
        if on_progress is not None:
            on_progress(done, config.steps, state.loss)
        is_eval_step = config.eval_every and done % config.eval_every == 0
        if evaluate_fn is not None and (is_eval_step or done == config.steps):
            history.evaluations.append((done, evaluate_fn(model)))
        if checkpoint is not None and checkpoint.due(done, config.steps):
            checkpoint.save(done, _training_state(state, schedule, history, callbacks))
    model.eval()
    return history


def _training_state(state: TrainState, schedule, history: History, callbacks: tuple[Callback, ...]) -> dict:
    """Everything the next step depends on (the batch position is the step count)."""
    return {"model": state.model.state_dict(), "masks": get_masks(state.model),
            "optimizer": optimizer_state(state.optimizer), "schedule": schedule.state_dict(), "rng": rng_state(),
            "train_loss": torch.tensor(history.train_loss, dtype=torch.float64),
            "evaluations": [[step, metrics] for step, metrics in history.evaluations],
            "callbacks": [c.state(state.model) for c in callbacks]}


def _restore(saved: dict, state: TrainState, schedule, history: History, callbacks: tuple[Callback, ...]) -> None:
    if saved["masks"] is not None:
        apply_masks(state.model, saved["masks"])
    state.model.load_state_dict(saved["model"])
    load_optimizer_state(state.optimizer, saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    load_rng_state(saved["rng"])
    history.train_loss = saved["train_loss"].tolist()
    history.evaluations = [(step, metrics) for step, metrics in saved["evaluations"]]
    for callback, callback_state in zip(callbacks, saved["callbacks"], strict=True):
        if callback_state is not None:
            callback.restore(callback_state, state.model)
