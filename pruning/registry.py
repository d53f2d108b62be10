"""What both method registries share: import every module of a package (each registers itself),
and add an entry once per name."""

import importlib
import pkgutil


def import_all(package: str, path) -> None:
    """Import every module of `package` (its `__path__`), so that each file registers itself."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")


def add(registry: dict, entry, kind: str):
    """Add `entry` (anything with a `name`) to `registry`, refusing a second one of that name."""
    if entry.name in registry:
        raise ValueError(f"{kind} {entry.name!r} is registered twice")
    registry[entry.name] = entry
    return entry
