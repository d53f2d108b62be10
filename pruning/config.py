"""Run configuration: dataclasses read from TOML, overridden by `section.field=value` flags.

Every field is checked on load (unknown names, types, ranges, allowed values), so bad input
fails with a message naming the field and what it accepts, before any run is written.
run_id = the first 12 hex digits of sha256(canonical JSON of the config + schema version).
"""

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from analysis.solution_path import BUDGETS
from analysis.store import SCHEMA_VERSION

from .masks import ALLOCATIONS, check_allocation, n_m
from .methods import METHODS, find_variant
from .methods.base import SCHEDULES
from .models import POOLER_CHOICES
from .options import OptionError
from .structured_methods import STRUCTURED_METHODS
from .structured_methods.spp import SPPSettings
from .train import DECAYS, TrainConfig


class ConfigError(ValueError):
    """A config field is missing, unknown, of the wrong type or out of range."""


@dataclass
class ModelConfig:
    """`name`: minilm, tiny-bert|vit|clip|gpt2|llama, an HF id or a local path. `pooler`: prune
    it, treat it as part of the task head, or "auto" (the head where no training used it)."""

    name: str = "minilm"
    max_length: int = 64
    pooler: str = field(default="auto", metadata={"choices": POOLER_CHOICES})


@dataclass
class DataConfig:
    """`name`: movie-reviews, sms-spam, trec, fashion-mnist, csv:PATH or disk:PATH."""

    name: str = "movie-reviews"
    split_seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    max_train: int = 0
    max_eval: int = 0
    text_column: str = "text"
    label_column: str = "label"


@dataclass
class PruneConfig:
    """What to prune and when. `schedule` "" is the method's default. one-shot scores
    `score_batches` batches; iterative runs `iterations` rounds of one batch; gradual prunes
    during [finetune] from step `start` for `duration` steps, re-masking every `every` steps
    (−1: the preset's, else 10% and 50% of the steps and every step). `preset` names a paper's
    setting declared by the method (hyperparameters and the gradual schedule's shape)."""

    method: str = field(default="magnitude", metadata={"choices": METHODS})
    schedule: str = field(default="", metadata={"choices": ("", *SCHEDULES)})
    sparsity: float = 0.5
    allocation: str = field(default="global", metadata={"choices": ALLOCATIONS})
    """when a config leaves it out: the method's default variant's (Wanda: row), else global"""
    score_batches: int = 8
    iterations: int = 100
    start: int = -1
    duration: int = -1
    every: int = -1
    resurrect: bool = False
    preset: str = ""
    hparams: dict = field(default_factory=dict)

    @property
    def resolved_schedule(self) -> str:
        return self.schedule or METHODS[self.method].schedules[0]

    def window(self, steps: int) -> tuple[int, int]:
        """(t_i, N_p) of the gradual schedule for a fine-tuning of `steps` steps: the config's,
        else the preset's in steps or as fractions of `steps`, else 10% and 50% of `steps`."""
        preset = self.preset_values

        def resolve(given: int, name: str, default: float) -> int:
            if given >= 0:
                return given
            return preset[name] if name in preset else round(preset.get(f"{name}_fraction", default) * steps)

        return resolve(self.start, "start", 0.1), resolve(self.duration, "duration", 0.5)

    @property
    def resolved_every(self) -> int:
        """Re-mask interval of the gradual schedule: the config's, else the preset's, else 1."""
        return self.every if self.every >= 1 else self.preset_values.get("every", 1)

    def variant(self, seed: int):
        """The registry's variant these fields select (its label and colour), or None."""
        return find_variant(self.method, self.resolved_schedule, self.resurrect, self.allocation, self.preset,
                            self.resolved_hparams(seed))

    @property
    def preset_values(self) -> dict:
        """What the preset sets for this method on this schedule ({} without a preset)."""
        return METHODS[self.method].presets.get(self.preset, {}).get(self.resolved_schedule, {})

    def resolved_hparams(self, seed: int) -> dict:
        """Method defaults, then the preset's hyperparameters, then `hparams`; the run's `seed`
        where the method takes one and the config does not set it. Every value checked."""
        method = METHODS[self.method]
        names = {f.name for f in dataclasses.fields(method.hparams)}
        preset = {k: v for k, v in self.preset_values.items() if k in names}
        given = {**preset, **self.hparams}
        if "seed" in names and "seed" not in self.hparams:
            given["seed"] = seed
        return dataclasses.asdict(method.parse_hparams(given))


@dataclass
class ProbeConfig:
    """The noise probe (pruning/probe.py): `batches` = 0 turns it off."""

    batches: int = 16
    snr_threshold: float = 1.0
    sample_size: int = 20_000


def _sparsity_grid() -> list:
    return [round(0.05 * i, 2) for i in range(1, 20)]


@dataclass(frozen=True)
class SPPConfig(SPPSettings):
    """A structured run: `method` (pruning/structured_methods/: SPP's search, or a baseline's
    score over `score_batches` training batches) orders the QK, VO and FFN entries, then read-offs by
    `budget`: every sparsity of `grid` evaluated without recovery (the page's slider), those of
    `recover` fine-tuned by [finetune] too (a per-target method, the lasso, searches for `target`
    and recovers only it: `recover` = [target]); `eval_size` validation examples are evaluated at each
    SPP checkpoint; `latency_batch` examples time the dense, masked and compressed models. The
    other fields are SPP's dynamics (pruning/structured_methods/spp.py)."""

    method: str = field(default="SPP", metadata={"choices": tuple(STRUCTURED_METHODS)})
    score_batches: int = 16
    target: float = 0.5
    budget: str = field(default="global", metadata={"choices": BUDGETS})
    grid: list = field(default_factory=_sparsity_grid)
    recover: list = field(default_factory=lambda: [0.3, 0.5, 0.7])
    eval_size: int = 256
    latency_batch: int = 32

    def __post_init__(self):
        try:
            super().__post_init__()
        except ValueError as error:
            raise ConfigError(str(error)) from None
        for name in ("grid", "recover"):
            values = getattr(self, name)
            if not all(isinstance(v, int | float) and 0 <= v < 1 for v in values):
                raise ConfigError(f"spp.{name}: {values!r} is not allowed; must be a list of sparsities in [0, 1)")
        for name in ("eval_size", "latency_batch", "score_batches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"spp.{name}: {getattr(self, name)!r} is not allowed; must be >= 1")
        if not (isinstance(self.target, int | float) and 0 < self.target < 1):
            raise ConfigError(f"spp.target: {self.target!r} is not allowed; must be a sparsity in (0, 1)")
        method = STRUCTURED_METHODS.get(self.method)
        if method is not None and method.per_target and list(self.recover) != [self.target]:
            raise ConfigError(f"spp.recover: {self.recover!r} is not allowed for {self.method}, which searches for "
                              f"one target: must be [spp.target] = [{self.target}]")


@dataclass(frozen=True)
class SensitivityConfig:
    """A sensitivity run (pruning/sensitivity.py): from the dense run, each prunable matrix alone
    pruned to each of `sparsities` by `criterion` within the matrix, no recovery, its accuracy on
    `eval_size` validation examples (0: all) against the dense model's."""

    sparsities: list = field(default_factory=lambda: [0.3, 0.5, 0.7, 0.9])
    criterion: str = field(default="magnitude", metadata={"choices": ("magnitude", "random")})
    eval_size: int = 256

    def __post_init__(self):
        if not self.sparsities or not all(isinstance(v, int | float) and 0 < v <= 1 for v in self.sparsities):
            raise ConfigError(f"sensitivity.sparsities: {self.sparsities!r} is not allowed; must be a non-empty "
                              "list of sparsities in (0, 1]")
        if self.eval_size < 0:
            raise ConfigError(f"sensitivity.eval_size: {self.eval_size!r} is not allowed; must be >= 0 (0: all)")


@dataclass
class RunConfig:
    """A run: data, model, optional dense fine-tuning, then pruning and recovery fine-tuning.

    Without [prune] the run is the dense run itself: fine-tuned by [dense], evaluated, saved.
    With [prune] (or [spp]: a Solution Path Pruning search; or [sensitivity]: each matrix pruned
    alone), the dense run with the same seed, model, data and [dense] is made (or found) first and
    pruned from its weights.
    """

    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    dense: TrainConfig = field(default_factory=TrainConfig)
    prune: PruneConfig | None = None
    finetune: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    spp: SPPConfig | None = None
    sensitivity: SensitivityConfig | None = None

    def canonical(self) -> dict:
        """The fields that define the run's result (a dense run ignores [finetune])."""
        values = dataclasses.asdict(self)
        for section in ("spp", "sensitivity"):  # absent sections keep older runs' ids
            if getattr(self, section) is None:
                values.pop(section)
        if self.is_dense:
            values.pop("finetune")
            values.pop("prune", None)
        return values

    @property
    def is_dense(self) -> bool:
        return self.prune is None and self.spp is None and self.sensitivity is None

    @property
    def run_id(self) -> str:
        text = json.dumps({"schema": SCHEMA_VERSION, **self.canonical()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def dense_config(self) -> "RunConfig":
        """The config of the dense run this run prunes."""
        return RunConfig(seed=self.seed, model=self.model, data=self.data, dense=self.dense, probe=self.probe)

    @property
    def method(self) -> str:
        if self.sensitivity is not None:
            return "sensitivity"
        return "spp" if self.spp else self.prune.method if self.prune else "dense"

    @property
    def label(self) -> str:
        """The method as papers name it (SEVENpre, Iter-SNIP, …): what charts group by."""
        if self.spp is not None:
            return self.spp.method
        if self.sensitivity is not None:
            return f"sensitivity ({self.sensitivity.criterion})"
        if self.prune is None:
            return "dense"
        prune = self.prune
        variant = prune.variant(self.seed)
        if variant is not None:
            return variant.label
        name = f"{prune.method} ({prune.resolved_schedule}, {prune.allocation})"
        return f"{name} + resurrection" if prune.resurrect else name

    @property
    def sparsity(self) -> float | None:
        """The run's sparsity: 0 for the dense run, None for a structured ranking (a whole path),
        the target for a per-target structured method (the lasso), None for a sensitivity run."""
        if self.sensitivity is not None:
            return None
        if self.spp is not None:
            return self.spp.target if STRUCTURED_METHODS[self.spp.method].per_target else None
        return self.prune.sparsity if self.prune else 0.0


def _check_ranges(config: RunConfig) -> None:
    checks = [
        ("model.max_length", config.model.max_length, config.model.max_length >= 4, ">= 4"),
        ("data.val_fraction", config.data.val_fraction, 0 < config.data.val_fraction < 1, "in (0, 1)"),
        ("data.test_fraction", config.data.test_fraction, 0 < config.data.test_fraction < 1,
         "in (0, 1)"),
        ("data.max_train", config.data.max_train, config.data.max_train >= 0, ">= 0 (0: all)"),
        ("data.max_eval", config.data.max_eval, config.data.max_eval >= 0, ">= 0 (0: all)"),
    ]
    checks += [
        ("probe.batches", config.probe.batches, config.probe.batches == 0 or config.probe.batches >= 2,
         "0 (off) or >= 2"),
        ("probe.sample_size", config.probe.sample_size, config.probe.sample_size >= 0, ">= 0"),
    ]
    given = [name for name in ("prune", "spp", "sensitivity") if getattr(config, name) is not None]
    if len(given) > 1:
        raise ConfigError(f"{given[1]}: a run has one of [prune], [spp] or [sensitivity], not {' and '.join(given)}")
    if config.data.val_fraction + config.data.test_fraction >= 1:
        raise ConfigError("data.val_fraction + data.test_fraction must be < 1")
    for section in ("dense", "finetune"):
        train: TrainConfig = getattr(config, section)
        checks += [
            (f"{section}.steps", train.steps, train.steps >= 0, ">= 0"),
            (f"{section}.lr", train.lr, train.lr > 0, "> 0"),
            (f"{section}.batch_size", train.batch_size, train.batch_size >= 1, ">= 1"),
            (f"{section}.weight_decay", train.weight_decay, train.weight_decay >= 0, ">= 0"),
            (f"{section}.warmup", train.warmup, 0 <= train.warmup <= 1, "in [0, 1]"),
            (f"{section}.decay", train.decay, train.decay in DECAYS, f"one of {', '.join(DECAYS)}"),
            (f"{section}.eval_every", train.eval_every, train.eval_every >= 0, ">= 0"),
        ]
    if config.prune is not None:
        prune = config.prune
        method = METHODS[prune.method]
        start, duration = prune.window(config.finetune.steps)
        checks += [
            ("prune.sparsity", prune.sparsity, 0 <= prune.sparsity < 1, "in [0, 1)"),
            ("prune.schedule", prune.resolved_schedule, prune.resolved_schedule in method.schedules,
             f"one of {', '.join(method.schedules)} for {method.name}"),
            ("prune.preset", prune.preset, prune.preset == "" or prune.resolved_schedule in
             method.presets.get(prune.preset, {}),
             "one of " + ", ".join(p for p, v in method.presets.items() if prune.resolved_schedule in v)
             + f" for {method.name} on {prune.resolved_schedule}"
             if any(prune.resolved_schedule in v for v in method.presets.values())
             else f"empty: {method.name} has no preset on {prune.resolved_schedule}"),
            ("prune.score_batches", prune.score_batches, prune.score_batches >= 1, ">= 1"),
            ("prune.iterations", prune.iterations, prune.iterations >= 1, ">= 1"),
            ("prune.every", prune.every, prune.every >= 1 or prune.every == -1, ">= 1, or -1 (the preset's or 1)"),
        ]
        checks.append(("prune.allocation", prune.allocation, prune.allocation in method.allocations,
                       f"one of {', '.join(method.allocations)} for {method.name}"))
        if n_m(prune.allocation):
            checks.append(("prune.schedule", prune.resolved_schedule, prune.resolved_schedule == "one-shot",
                           f"one-shot with allocation {prune.allocation} (N:M has one density)"))
            try:
                check_allocation(prune.allocation, prune.sparsity)
            except ValueError as error:
                raise ConfigError(f"prune.{error}") from None
        if prune.resolved_schedule == "gradual":
            checks.append(("prune.start + prune.duration", start + duration,
                           duration >= 1 and start + duration <= config.finetune.steps,
                           f"a window of >= 1 step inside finetune.steps = {config.finetune.steps}"))
        try:
            prune.resolved_hparams(config.seed)
        except OptionError as error:
            raise ConfigError(str(error)) from None
    for name, value, ok, allowed in checks:
        if not ok:
            raise ConfigError(f"{name}: {value!r} is not allowed; must be {allowed}")


def _coerce(value, hint, where: str):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):  # unset, as a manifest writes it
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not allowed; must be a finite number")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is dict and isinstance(value, dict):
        return dict(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _build(cls, values, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a table of fields")
    names = [f.name for f in dataclasses.fields(cls)]
    hints = typing.get_type_hints(cls)
    prefix = f"{where}." if where else ""
    for key in values:
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown field; allowed: {', '.join(names)}")
    kwargs = {key: _coerce(value, hints[key], prefix + key) for key, value in values.items()}
    built = cls(**kwargs)
    for f in dataclasses.fields(cls):
        choices = f.metadata.get("choices")
        if choices is not None and getattr(built, f.name) not in choices:
            raise ConfigError(
                f"{prefix}{f.name}: {getattr(built, f.name)!r} is not allowed; "
                f"allowed: {', '.join(choices)}"
            )
    return built


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(values: dict, assignment: str) -> None:
    """Set `section.field=value` (value read as TOML, else as a string) in a config dict."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {assignment!r}: expected section.field=value")
    *sections, name = key.strip().split(".")
    target = values
    for section in sections:
        target = target.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"override {assignment!r}: {section} is not a section")
    target[name] = _parse_value(text.strip())


def _default_allocation(values: dict) -> dict:
    """A [prune] table without `allocation` takes the method's default variant's (Wanda: row,
    SparseGPT: module), else global."""
    prune = values.get("prune")
    if isinstance(prune, dict) and "allocation" not in prune and prune.get("method") in METHODS:
        allocation = METHODS[prune["method"]].variants[0].allocation
        if allocation:
            return {**values, "prune": {**prune, "allocation": allocation}}
    return values


def config_from_dict(values: dict) -> RunConfig:
    config = _build(RunConfig, _default_allocation(values), "")
    _check_ranges(config)
    return config


def read_toml(path: str | Path, overrides: list[str] = ()) -> dict:
    """A TOML file as a dict, with `section.field=value` overrides applied."""
    try:
        values = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config: file {path} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config: {path} is not valid TOML: {error}") from None
    for assignment in overrides:
        apply_override(values, assignment)
    return values


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a TOML run config and apply `section.field=value` overrides, validating all."""
    values = read_toml(path, overrides)
    if "sweep" in values:
        raise ConfigError(f"config: {path} has a [sweep] table; run it with: python -m pruning sweep {path}")
    return config_from_dict(values)
