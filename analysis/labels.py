"""Names and colours shared by the backend tables and every page, so they match everywhere."""

ROLES = ("q", "k", "v", "qkv", "o", "ffn_gate", "ffn_in", "ffn_out", "pooler")
"""Canonical module roles in display order; `qkv` is GPT-2's fused projection."""

ROLE_LABELS = {
    "q": "query", "k": "key", "v": "value", "qkv": "qkv (fused)", "o": "attn out",
    "ffn_gate": "ffn gate", "ffn_in": "ffn in", "ffn_out": "ffn out", "pooler": "pooler",
}

METHOD_COLORS = {"dense": "#222222", "magnitude": "#1f77b4", "random": "#7f7f7f"}
_FALLBACK = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def method_color(method: str) -> str:
    """The colour of a method on every chart (a stable fallback for names not listed)."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return _FALLBACK[sum(map(ord, method)) % len(_FALLBACK)]


def layer_label(layer: int) -> str:
    """Block index as shown on axes; -1 is the pooler."""
    return "pooler" if layer < 0 else f"layer {layer}"
