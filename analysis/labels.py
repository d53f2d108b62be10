"""Display names, orders and colours shared by every page, so they match everywhere. Nothing here
decides what the backend computes (the architecture table in pruning/architectures.py does)."""

ROLES = ("q", "k", "v", "qkv", "o", "ffn_gate", "ffn_in", "ffn_out", "pooler", "conv", "fc")
"""Module roles in the order columns are shown; `qkv` is GPT-2's fused projection; `conv` and
`fc` belong to the small CNN that serves as the non-transformer reference."""

ROLE_LABELS = {
    "q": "query", "k": "key", "v": "value", "qkv": "qkv (fused)", "o": "attn out",
    "ffn_gate": "ffn gate", "ffn_in": "ffn in", "ffn_out": "ffn out", "pooler": "pooler",
    "conv": "conv", "fc": "fc hidden",
}

DENSE_COLOR = "#8c8c8c"
"""The dense model's reference lines: a mid grey, readable on the light and on the dark theme."""
PALETTE = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
"""For a label whose run records no colour (each method file declares its own, and runs record it)."""


def method_color(label: str, declared: str | None = None) -> str:
    """The colour of a method label: the one its runs record, the dense colour, else a stable pick."""
    if declared:
        return declared
    if label == "dense":
        return DENSE_COLOR
    return PALETTE[sum(map(ord, label)) % len(PALETTE)]


def method_order(methods) -> list[str]:
    """Method labels for legends and tables: dense first, then alphabetically (case ignored)."""
    return sorted(methods, key=lambda m: (m != "dense", m.lower()))


def matrix_label(layer: int, module: str) -> str:
    """Where a matrix lies, as pages write it: "layer 3 · ffn out"."""
    return f"{layer_label(int(layer))} · {ROLE_LABELS.get(module, module)}"


def layer_label(layer: int) -> str:
    """Block index as shown on axes; -1 holds what lies outside the blocks (BERT's pooler)."""
    return "after blocks" if layer < 0 else f"layer {layer}"
