"""The New run page's form, read off the config dataclasses, the sweep fields and the method
registry: for a config file, every field with its type, its value in that file, its choices and
help; a method's hyperparameters from its dataclass. A filled form amounts to the file plus
`--set section.field=value` overrides, checked by the loaders the CLI uses (same messages)."""

import dataclasses
import json
import typing
from pathlib import Path

from .config import RunConfig, config_from_dict, load_config, read_toml
from .methods import METHODS, variants
from .options import allowed_text
from .structured_methods import STRUCTURED_METHODS
from .sweep import load_sweep

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@dataclasses.dataclass(frozen=True)
class FormField:
    """One input: `key` as --set names it (section.field), its type ("bool", "int", "float", "str",
    "list" or "choice"), its current `value`, `choices` (choice, or a list of choices) and `help`."""

    key: str
    kind: str
    value: object
    choices: tuple = ()
    help: str = ""


def config_files() -> dict[str, str]:
    """configs/*.toml -> "sweep" (it has a [sweep] table) or "run"."""
    return {f"configs/{p.name}": "sweep" if "sweep" in read_toml(p) else "run" for p in sorted(CONFIGS.glob("*.toml"))}


def _kind(hint) -> str:
    hint = next((h for h in typing.get_args(hint) if h is not type(None)), hint)
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list"}.get(hint, "str")


def _section_fields(name: str, section) -> list[FormField]:
    hints = typing.get_type_hints(type(section))
    out = []
    for f in dataclasses.fields(section):
        if f.name == "hparams" or not f.init:
            continue
        choices = tuple(f.metadata.get("choices", ()))
        out.append(FormField(f"{name}.{f.name}" if name else f.name, "choice" if choices else _kind(hints[f.name]),
                             getattr(section, f.name), choices, (f.metadata.get("help") or "")))
    return out


def base_config(path: str | Path) -> tuple[RunConfig, dict | None]:
    """The file's run config (a sweep file: before its [sweep] is expanded) and its [sweep] table."""
    values = read_toml(path)
    sweep = values.pop("sweep", None)
    return (config_from_dict(values), sweep) if sweep is not None else (load_config(path), None)


def form_fields(path: str | Path) -> list[FormField]:
    """Every field of the file's config (its sections that are set), then its [sweep] fields."""
    config, sweep = base_config(path)
    fields = [FormField("seed", "int", config.seed)]
    for section in ("model", "data", "dense", "prune", "spp", "sensitivity", "finetune", "probe"):
        value = getattr(config, section)
        if value is not None:
            fields += _section_fields(section, value)
    if sweep is not None:
        labels = tuple(STRUCTURED_METHODS if config.spp else variants())
        fields += [FormField("sweep.methods", "list", list(sweep.get("methods", [])), labels,
                             "the methods as their variants are labelled"),
                   FormField("sweep.sparsities", "list", list(sweep.get("sparsities", [])), (), "in [0, 1)"),
                   FormField("sweep.seeds", "list", list(sweep.get("seeds", [])), (), "integers >= 0"),
                   FormField("sweep.study", "str", sweep.get("study", Path(path).stem))]
    return fields


def hparam_fields(method: str, given: dict) -> list[FormField]:
    """The hyperparameters of `method` with the values `given` (else defaults), help and range."""
    hparams = METHODS[method].hparams
    out = []
    for f in dataclasses.fields(hparams):
        allowed = f.metadata.get("allowed", "")
        kind = "choice" if isinstance(allowed, tuple) else _kind(typing.get_type_hints(hparams)[f.name])
        help_text = " ".join(filter(None, (f.metadata.get("help", ""), allowed_text(f) and f"({allowed_text(f)})")))
        out.append(FormField(f"prune.hparams.{f.name}", kind, given.get(f.name, f.default),
                             allowed if isinstance(allowed, tuple) else (), help_text))
    return out


def overrides(fields: list[FormField], values: dict) -> list[str]:
    """The `--set` strings for the values (key -> value) that differ from the fields' own."""
    return [f"{f.key}={json.dumps(values[f.key])}" for f in fields if f.key in values and values[f.key] != f.value]


def check(path: str | Path, kind: str, sets: list[str]) -> None:
    """Validate the job as the CLI would (ConfigError with the CLI's message)."""
    (load_sweep if kind == "sweep" else load_config)(path, sets)
