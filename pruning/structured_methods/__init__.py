"""The structured registry: every module of this package is imported and each method file
registers itself (base.register); configs ([spp] method), sweeps and the dashboard read it."""

import importlib
import pkgutil

from .base import REGISTRY, StructuredMethod

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

STRUCTURED_METHODS: dict[str, StructuredMethod] = dict(sorted(REGISTRY.items()))
"""name -> StructuredMethod, in alphabetical order."""

__all__ = ["STRUCTURED_METHODS", "StructuredMethod"]
