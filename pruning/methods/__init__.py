"""The registry: one entry per method, feeding the CLI, the library API and the page menus."""

from . import magnitude, random
from .base import Method

METHODS: dict[str, Method] = {m.name: m for m in (magnitude.METHOD, random.METHOD)}

__all__ = ["METHODS", "Method"]
