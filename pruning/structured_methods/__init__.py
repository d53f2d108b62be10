"""The structured registry: every module of this package is imported and each method file
registers itself (base.register); configs ([spp] method), sweeps and the dashboard read it."""

from ..registry import import_all
from .base import REGISTRY, StructuredMethod

import_all(__name__, __path__)

STRUCTURED_METHODS: dict[str, StructuredMethod] = dict(sorted(REGISTRY.items()))
"""name -> StructuredMethod, in alphabetical order."""

__all__ = ["STRUCTURED_METHODS", "StructuredMethod"]
