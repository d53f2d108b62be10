"""The registry: one entry per method, feeding the CLI, the library API and the page menus."""

from . import grasp, magnitude, movement, platon, random, seven, snip, soft_movement
from .base import Method

METHODS: dict[str, Method] = {
    m.name: m for m in (magnitude.METHOD, random.METHOD, snip.METHOD, grasp.METHOD, seven.METHOD,
                        movement.METHOD, soft_movement.METHOD, platon.METHOD)
}

PAPER_NAMES = {
    ("seven", "iterative"): "SEVENpre",
    ("seven", "gradual"): "SEVENdyn",
    ("snip", "one-shot"): "SNIP",
    ("snip", "iterative"): "Iter-SNIP",
    ("grasp", "one-shot"): "GraSP",
    ("magnitude", "gradual"): "gradual magnitude",
    ("soft-movement", "gradual"): "soft movement",
    ("platon", "gradual"): "PLATON",
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


def variants() -> dict[str, dict]:
    """Every label a study can name -> the [prune] fields that select it (method, schedule,
    resurrect): SEVENpre, SEVENdyn, SNIP, Iter-SNIP, FORCE, GraSP, magnitude, …
    A method's default schedule is given as "" so the run_id equals that of a plain run."""
    table = {method_label(name, schedule): dict(method=name, schedule="" if i == 0 else schedule,
                                                resurrect=False)
             for name, method in METHODS.items() for i, schedule in enumerate(method.schedules)}
    table["FORCE"] = dict(method="snip", schedule="iterative", resurrect=True)
    return table


__all__ = ["METHODS", "Method", "method_label", "variants"]
