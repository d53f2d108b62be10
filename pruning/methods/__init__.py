"""The registry: every module of this package is imported, and each method file registers
itself (base.register), feeding the CLI, the config checks, sweeps, the library API and the
dashboard (through the manifests' labels and colours). No other file names a method."""

import importlib
import pkgutil

from .base import REGISTRY, Method, Variant

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

METHODS: dict[str, Method] = dict(sorted(REGISTRY.items()))
"""name -> Method, in alphabetical order."""


def find_variant(method: str, schedule: str, resurrect: bool = False, allocation: str = "global") -> Variant | None:
    """The variant a run selects: the method's variant with this schedule and resurrection whose
    allocation is this one, else one that leaves the allocation to the run; None if neither."""
    matches = [v for v in METHODS[method].variants if (v.schedule, v.resurrect) == (schedule, resurrect)]
    exact = [v for v in matches if v.allocation == allocation]
    free = [v for v in matches if v.allocation is None]
    return (exact or free or [None])[0]


def method_label(method: str, schedule: str, resurrect: bool = False, allocation: str = "global") -> str:
    """How papers name a method on a schedule (SEVENpre, Iter-SNIP, FORCE, Wanda, …), or
    `method (schedule, allocation)` where no variant is declared."""
    variant = find_variant(method, schedule, resurrect, allocation)
    if variant is not None:
        return variant.label
    name = f"{method} ({schedule}, {allocation})"
    return f"{name} + resurrection" if resurrect else name


def method_color(method: str, schedule: str, resurrect: bool = False, allocation: str = "global") -> str | None:
    """The declared chart colour of the variant a run selects (None: the dashboard picks one)."""
    variant = find_variant(method, schedule, resurrect, allocation)
    return None if variant is None else variant.color


def variants() -> dict[str, dict]:
    """Every label a study can name -> the [prune] fields that select it (method, schedule,
    resurrect and, where the variant fixes it, allocation). A method's default schedule is given
    as "" so the run_id equals that of a plain run."""
    table = {}
    for name, method in METHODS.items():
        default = method.schedules[0]
        for v in method.variants:
            fields = dict(method=name, schedule="" if v.schedule == default else v.schedule, resurrect=v.resurrect)
            if v.allocation is not None:
                fields["allocation"] = v.allocation
            table[v.label] = fields
    return table


__all__ = ["METHODS", "Method", "Variant", "method_color", "method_label", "variants"]
