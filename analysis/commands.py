"""The fewest sweep commands that recompute a study. A study records every sweep that added to
it; one over a config with `--set` overrides of sweep.methods, sweep.sparsities or sweep.seeds
computes a slice of that config's grid (methods x sparsities x seeds). Within one config and
the same other overrides, a slice inside another is dropped, two slices that differ on one axis
become one, and slices that fill the whole grid become the config's plain sweep."""

import itertools
import json
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AXES = ("methods", "sparsities", "seeds")
PREFIX = ["python", "-m", "pruning", "sweep"]


def _value(text: str):
    """An override's value as the CLI reads it: TOML, else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _grid(config: str) -> dict | None:
    """The config's own methods, sparsities and seeds; None if it is not at hand."""
    try:
        sweep = tomllib.loads((ROOT / config).read_text()).get("sweep", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return sweep if all(isinstance(sweep.get(axis), list) for axis in AXES) else None


def _slice(command: str) -> tuple[tuple, dict, dict] | None:
    """(config, the other overrides), the command's axes and the config's own grid; None for a
    command that is not a sweep of a config at hand with `--set` overrides only."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:len(PREFIX)] != PREFIX or len(words) == len(PREFIX):
        return None
    config, rest = words[len(PREFIX)], words[len(PREFIX) + 1:]
    grid = _grid(config)
    if grid is None or len(rest) % 2 or any(flag != "--set" for flag in rest[::2]):
        return None
    axes, others = {axis: grid[axis] for axis in AXES}, []
    for assignment in rest[1::2]:
        key, _, text = assignment.partition("=")
        section, _, field = key.partition(".")
        if section == "sweep" and field in AXES:
            axes[field] = _value(text)
        else:
            others.append(assignment)
    if not all(isinstance(values, list) for values in axes.values()):
        return None
    return (config, tuple(others)), axes, grid


def _keys(values: list) -> frozenset:
    """An axis's values as comparable keys (TOML values may be unhashable or 0.5 == 0.50)."""
    return frozenset(map(json.dumps, values))


def _cells(axes: dict) -> frozenset:
    return frozenset(itertools.product(*(_keys(axes[a]) for a in AXES)))


def _merged(a: dict, b: dict, grid: dict) -> dict | None:
    """One slice for two that differ on one axis only (their union is then exact), else None."""
    differ = [axis for axis in AXES if _keys(a[axis]) != _keys(b[axis])]
    if len(differ) != 1:
        return None
    axis = differ[0]
    values = [*a[axis], *(v for v in b[axis] if v not in a[axis])]
    order = {json.dumps(v): i for i, v in enumerate(grid[axis])}
    return {**a, axis: sorted(values, key=lambda v: order.get(json.dumps(v), len(order)))}


def _fewest(slices: list[dict], grid: dict) -> list[dict]:
    """Slices covering the same cells: none inside another, none two that one could replace."""
    slices = list(slices)
    changed = True
    while changed:
        changed = False
        for i, j in itertools.permutations(range(len(slices)), 2):
            if _cells(slices[j]) <= _cells(slices[i]):
                del slices[j]
            elif (merged := _merged(slices[i], slices[j], grid)) is not None:
                slices[i] = merged
                del slices[j]
            else:
                continue
            changed = True
            break
    return slices


def _command(config: str, others: tuple, axes: dict, grid: dict) -> str:
    narrowed = [f"sweep.{axis}={json.dumps(axes[axis])}" for axis in AXES if _keys(axes[axis]) != _keys(grid[axis])]
    return " ".join(["python -m pruning sweep", config, *(f"--set {shlex.quote(o)}" for o in (*others, *narrowed))])


def covering_commands(commands: list[str]) -> list[str]:
    """`commands` as the fewest that compute the same runs; each config's (and overrides') group
    written where its first command stood, other commands as they are."""
    parsed = [(command, _slice(command)) for command in dict.fromkeys(commands)]
    groups: dict[tuple, list[dict]] = {}
    for _, found in parsed:
        if found is not None:
            groups.setdefault(found[0], []).append(found[1])
    out = []
    for command, found in parsed:
        if found is None:
            out.append(command)
        elif found[0] in groups:
            (config, others), _, grid = found
            out += [_command(config, others, axes, grid) for axes in _fewest(groups.pop(found[0]), grid)]
    return out
