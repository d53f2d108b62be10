"""The registry: every module of this package is imported, and each method file registers
itself (base.register), feeding the CLI, the config checks, sweeps, the library API and the
dashboard (through the manifests' labels and colours). No other file names a method.
variants() maps every label a study can name to the [prune] fields that select it."""

from ..registry import import_all
from .base import REGISTRY, Method, Variant

import_all(__name__, __path__)

METHODS: dict[str, Method] = dict(sorted(REGISTRY.items()))
"""name -> Method, in alphabetical order."""


def find_variant(method: str, schedule: str, resurrect: bool = False, allocation: str = "global",
                 preset: str = "", hparams: dict | None = None) -> Variant | None:
    """The variant a run's [prune] fields select: the most specific one they match, or None."""
    fields = (schedule, resurrect, allocation, preset, hparams or {})
    matching = [v for v in METHODS[method].variants if v.matches(*fields)]
    return max(matching, key=lambda v: v.specificity, default=None)


def variants() -> dict[str, dict]:
    """Every label a study can name -> the [prune] fields that select it (method, schedule,
    resurrect and, where the variant fixes it, allocation). A method's default schedule is given
    as "" so the run_id equals that of a plain run."""
    table = {}
    for name, method in METHODS.items():
        default = method.schedules[0]
        for v in method.variants:
            fields = dict(method=name, schedule="" if v.schedule == default else v.schedule, resurrect=v.resurrect)
            optional = dict(allocation=v.allocation, preset=v.preset, hparams=v.hparams)
            table[v.label] = {**fields, **{k: value for k, value in optional.items() if value}}
    return table


__all__ = ["METHODS", "Method", "Variant", "find_variant", "variants"]
