"""Where each supported transformer keeps its blocks, and what every linear module in a block does.

One rule decides what is prunable for every method (docs/ALGORITHMS.md): the weights of the
linear modules inside the transformer blocks (attention q/k/v/out, FFN in/out and, for
gated FFNs, gate) plus the pooler unless it is treated as part of the task head (for the small
CNN baseline: its convolutions and hidden fully-connected layer). Embeddings, LayerNorms,
biases and the task head are never pruned. The same table names each block's roles, which structured pruning needs.
"""

from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class BlockLayout:
    """Dotted paths, relative to the base model, of the block lists and of each role in a block.

    `blocks`: one block list per tower; those the model lacks are skipped (CLIP's classifier
    has only the vision tower, CLIPModel has both), and blocks are numbered across towers.
    `extras`: role -> path of prunable modules outside the blocks (BERT's pooler).
    `fused_qkv`: q, k and v are the three thirds of one projection's output (GPT-2 `c_attn`).
    `transposed`: weights are stored (in, out) as in GPT-2's Conv1D, not (out, in).
    `rotary`: queries and keys are rotated after projection (RoPE pairs dims j and j + d_h/2).
    """

    blocks: tuple[str, ...]
    roles: dict[str, str]
    """role -> module path in a block, in the order that breaks ties between equal scores"""
    extras: dict[str, str] = field(default_factory=dict)
    fused_qkv: bool = False
    transposed: bool = False
    rotary: bool = False


_VIT = BlockLayout(
    blocks=("layers",),
    roles={
        "q": "attention.q_proj",
        "k": "attention.k_proj",
        "v": "attention.v_proj",
        "o": "attention.o_proj",
        "ffn_in": "mlp.fc1",
        "ffn_out": "mlp.fc2",
    },
)

LAYOUTS: dict[str, BlockLayout] = {
    "bert": BlockLayout(
        blocks=("encoder.layer",),
        roles={
            "q": "attention.self.query",
            "k": "attention.self.key",
            "v": "attention.self.value",
            "o": "attention.output.dense",
            "ffn_in": "intermediate.dense",
            "ffn_out": "output.dense",
        },
        extras={"pooler": "pooler.dense"},
    ),
    "vit": _VIT,
    "deit": _VIT,  # DeiT is ViT with a distillation token: the same blocks
    "clip": BlockLayout(
        blocks=("vision_model.encoder.layers", "text_model.encoder.layers"),
        roles={
            "q": "self_attn.q_proj",
            "k": "self_attn.k_proj",
            "v": "self_attn.v_proj",
            "o": "self_attn.out_proj",
            "ffn_in": "mlp.fc1",
            "ffn_out": "mlp.fc2",
        },
    ),
    "gpt2": BlockLayout(
        blocks=("h",),
        roles={"qkv": "attn.c_attn", "o": "attn.c_proj", "ffn_in": "mlp.c_fc", "ffn_out": "mlp.c_proj"},
        fused_qkv=True,
        transposed=True,
    ),
    "small-cnn": BlockLayout(blocks=("blocks",), roles={"conv": "conv"}, extras={"fc": "fc"}),
    "llama": BlockLayout(
        blocks=("layers",),
        rotary=True,
        roles={
            "q": "self_attn.q_proj",
            "k": "self_attn.k_proj",
            "v": "self_attn.v_proj",
            "o": "self_attn.o_proj",
            "ffn_gate": "mlp.gate_proj",
            "ffn_in": "mlp.up_proj",
            "ffn_out": "mlp.down_proj",
        },
    ),
}


@dataclass(frozen=True)
class PrunableWeight:
    """One prunable weight matrix: its parameter name, block index (None outside the blocks;
    numbered across towers, so CLIP's vision and text blocks never share an index), role,
    module, and whether it is stored (in, out) as GPT-2's Conv1D is."""

    name: str
    layer: int | None
    role: str
    module: nn.Module
    transposed: bool = False

    @property
    def table_layer(self) -> int:
        """The block index as tables store it: −1 for a weight outside the blocks."""
        return -1 if self.layer is None else self.layer


def layout_of(model: nn.Module) -> BlockLayout:
    """The block layout of `model`, or a ValueError naming the supported model types."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in LAYOUTS:
        raise ValueError(
            f"model type {model_type!r} is not supported; supported: {', '.join(sorted(LAYOUTS))}"
        )
    return LAYOUTS[model_type]


def _base_prefix(model: nn.Module) -> str:
    """Dotted prefix of the base model inside a task model ('' when `model` is the base)."""
    prefix = getattr(model, "base_model_prefix", "")
    return f"{prefix}." if prefix and hasattr(model, prefix) else ""


def block_paths(model: nn.Module) -> list[str]:
    """Dotted path of every transformer block of `model`, tower after tower."""
    layout = layout_of(model)
    prefix = _base_prefix(model)
    paths = []
    for tower in layout.blocks:
        if _has_submodule(model, prefix + tower):
            paths += [f"{prefix}{tower}.{i}" for i in range(len(model.get_submodule(prefix + tower)))]
    return paths


def prunable_weights(model: nn.Module) -> list[PrunableWeight]:
    """Every prunable weight matrix of `model`, block by block in the table's role order, then
    the extras. This order is the tie order of masks_from_scores."""
    layout = layout_of(model)
    prefix = _base_prefix(model)
    found = []
    for index, block in enumerate(block_paths(model)):
        for role, module_path in layout.roles.items():
            path = f"{block}.{module_path}"
            found.append(PrunableWeight(f"{path}.weight", index, role, model.get_submodule(path), layout.transposed))
    head = getattr(model.config, HEAD_ROLES, ())
    for role, path in layout.extras.items():
        if role not in head and _has_submodule(model, prefix + path):
            found.append(PrunableWeight(f"{prefix}{path}.weight", None, role, model.get_submodule(prefix + path)))
    return found


HEAD_ROLES = "prunescope_head_roles"
"""Config attribute: roles outside the blocks that belong to the task head (never pruned)."""


def treat_as_head(model: nn.Module, roles: list[str]) -> None:
    """Leave the modules of `roles` outside the blocks (e.g. an untrained pooler) unpruned, as
    the task head is; recorded in the model's config, so copies and saved configs keep it."""
    setattr(model.config, HEAD_ROLES, sorted(roles))


def weight_table(model: nn.Module) -> dict[str, PrunableWeight]:
    """name -> PrunableWeight: the structure masks, statistics and tables read."""
    return {w.name: w for w in prunable_weights(model)}


def _has_submodule(model: nn.Module, path: str) -> bool:
    try:
        model.get_submodule(path)
    except AttributeError:
        return False
    return True


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """name -> Parameter for every prunable weight of `model` (the one rule of docs/ALGORITHMS.md)."""
    params = dict(model.named_parameters())
    return {w.name: params[w.name] for w in prunable_weights(model)}
