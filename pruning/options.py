"""Declared options: a dataclass field that carries its default, what is allowed and one line
of help, so that validation, `--help`, `python -m pruning methods` and forms read one place.

    @dataclass(frozen=True)
    class SevenHparams:
        beta1: float = option(0.8, "decay of the first moment β1", allowed="[0, 1)")

`allowed` is an interval ("[0, 1)", "(0, inf)", "[1, inf)") or a tuple of choices.
`parse(cls, values, where)` builds the dataclass from a dict, refusing unknown names, wrong types
and values outside what is allowed, with a message that names the field and what it accepts.
"""

import dataclasses
import math
import re
import typing

INTERVAL = re.compile(r"^([\[(])\s*(-?inf|[-+0-9.e]+)\s*,\s*(-?inf|[-+0-9.e]+)\s*([\])])$")


class OptionError(ValueError):
    """A value given for a declared option is unknown, of the wrong type or not allowed."""


def option(default, help: str, allowed: str | tuple = ""):
    """A dataclass field with its one-line `help` and what is `allowed` (interval or choices)."""
    if isinstance(allowed, str) and allowed and not INTERVAL.match(allowed):
        raise ValueError(f"allowed: {allowed!r} is not an interval such as '[0, 1)'")
    return dataclasses.field(default=default, metadata={"help": help, "allowed": allowed})


def _in_interval(value: float, interval: str) -> bool:
    left, low, high, right = INTERVAL.match(interval).groups()
    low, high = float(low), float(high)
    above = value >= low if left == "[" else value > low
    below = value <= high if right == "]" else value < high
    return above and below


def allowed_text(f: dataclasses.Field) -> str:
    """What a field accepts, as a message says it."""
    allowed = f.metadata.get("allowed", "")
    if isinstance(allowed, tuple):
        return "one of " + ", ".join(map(str, allowed))
    return f"in {allowed}" if allowed else ""


def _type_name(hint) -> str:
    return getattr(hint, "__name__", str(hint))


def check_value(f: dataclasses.Field, hint, value, where: str):
    """`value` coerced to the field's type (an int where a float is declared), or an OptionError."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hint) or (hint in (int, float) and isinstance(value, bool)):
        raise OptionError(f"{where}: expected {_type_name(hint)}, got {value!r}")
    if hint is float and math.isnan(value):
        raise OptionError(f"{where}: NaN is not allowed; must be {allowed_text(f) or 'a number'}")
    allowed = f.metadata.get("allowed", "")
    ok = value in allowed if isinstance(allowed, tuple) else not allowed or _in_interval(value, allowed)
    if not ok:
        raise OptionError(f"{where}: {value!r} is not allowed; must be {allowed_text(f)}")
    return value


def parse(cls, values: dict, where: str, owner: str = ""):
    """An instance of the option dataclass `cls` from `values`, every field checked; `owner`
    names what the options belong to in the message for an unknown name."""
    if not isinstance(values, dict):
        raise OptionError(f"{where}: expected a table of fields")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise OptionError(f"{where}.{unknown[0]}: unknown{f' to {owner}' if owner else ''}; allowed: {known}")
    hints = typing.get_type_hints(cls)
    checked = {name: check_value(fields[name], hints[name], value, f"{where}.{name}") for name, value in values.items()}
    return cls(**checked)


def describe(cls) -> list[dict]:
    """One row per option: name, type, default, allowed, help (for listings and forms)."""
    hints = typing.get_type_hints(cls)
    instance = cls()
    return [dict(name=f.name, type=_type_name(hints[f.name]), default=getattr(instance, f.name),
                 allowed=allowed_text(f), help=f.metadata.get("help", "")) for f in dataclasses.fields(cls)]
