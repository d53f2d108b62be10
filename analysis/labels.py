"""Names and colours shared by the backend tables and every page, so they match everywhere."""

ROLES = ("q", "k", "v", "qkv", "o", "ffn_gate", "ffn_in", "ffn_out", "pooler", "conv", "fc")
"""Canonical module roles in display order; `qkv` is GPT-2's fused projection; `conv` and `fc`
belong to the small CNN that serves as the non-transformer reference."""

ROLE_LABELS = {
    "q": "query", "k": "key", "v": "value", "qkv": "qkv (fused)", "o": "attn out",
    "ffn_gate": "ffn gate", "ffn_in": "ffn in", "ffn_out": "ffn out", "pooler": "pooler",
    "conv": "conv", "fc": "fc hidden",
}

METHOD_COLORS = {
    "dense": "#222222", "magnitude": "#1f77b4", "gradual magnitude": "#9467bd", "random": "#7f7f7f",
    "SNIP": "#ff7f0e", "Iter-SNIP": "#e6a23c", "FORCE": "#bcbd22", "GraSP": "#8c564b",
    "SEVENpre": "#2ca02c", "SEVENdyn": "#17becf", "movement": "#d62728", "soft movement": "#e377c2",
    "PLATON": "#393b79",
}
_FALLBACK = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def method_color(method: str) -> str:
    """The colour of a method on every chart (a stable fallback for names not listed)."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return _FALLBACK[sum(map(ord, method)) % len(_FALLBACK)]


def method_order(methods) -> list[str]:
    """Methods in the order of METHOD_COLORS (families together), unknown names last."""
    known = list(METHOD_COLORS)
    return sorted(methods, key=lambda m: (known.index(m) if m in known else len(known), m))


def layer_label(layer: int) -> str:
    """Block index as shown on axes; -1 holds what lies outside the blocks (BERT's pooler)."""
    return "after blocks" if layer < 0 else f"layer {layer}"
