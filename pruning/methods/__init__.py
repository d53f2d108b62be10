"""The registry: one entry per method, feeding the CLI, the library API and the page menus."""

from . import magnitude, random, seven, snip
from .base import Method

METHODS: dict[str, Method] = {m.name: m for m in (magnitude.METHOD, random.METHOD, snip.METHOD, seven.METHOD)}

PAPER_NAMES = {
    ("seven", "iterative"): "SEVENpre",
    ("seven", "gradual"): "SEVENdyn",
    ("snip", "one-shot"): "SNIP",
    ("snip", "iterative"): "Iter-SNIP",
    ("magnitude", "gradual"): "gradual magnitude",
}


def method_label(method: str, schedule: str, resurrect: bool = False) -> str:
    """How papers name a method on a schedule: SEVENpre, Iter-SNIP, FORCE (= Iter-SNIP with
    resurrection), or `method (schedule)` where there is no such name."""
    if (method, schedule, resurrect) == ("snip", "iterative", True):
        return "FORCE"
    name = PAPER_NAMES.get((method, schedule))
    if name is None:
        name = method if schedule == METHODS[method].schedules[0] else f"{method} ({schedule})"
    return f"{name} + resurrection" if resurrect else name


__all__ = ["METHODS", "Method", "method_label"]
