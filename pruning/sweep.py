"""Sweeps: one run config x methods x sparsities x seeds, on identical data and budget.

A sweep file is a run config with a [sweep] table:
    [sweep]
    study = "compare"                       # groups the runs (default: the file's stem)
    methods = ["SEVENpre", "SNIP", "GraSP"]  # labels of pruning.methods.variants()
    sparsities = [0.5, 0.7, 0.9]
    seeds = [0, 1, 2]
Only prune.method/schedule/resurrect, prune.sparsity and seed vary; every other field is the
file's. A file with [spp] instead of [prune] sweeps structured methods (pruning/structured_methods/):
a ranking method runs once per seed (every sparsity is a read-off of its one ranking), a
per-target method (the lasso) once per seed and sparsity, with spp.target and spp.recover set
to it. All configs are checked before the first run starts. The study record lists the
planned run_ids; runs already done are skipped, so a killed sweep resumes where it stopped.
"""

import copy
import itertools
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from analysis.store import check_study_name, runs_root, write_study

from .config import ConfigError, RunConfig, config_from_dict, read_toml
from .devices import resolve_device
from .distributed import is_writer
from .methods import variants
from .progress import ProgressFile
from .structured_methods import STRUCTURED_METHODS

SWEEP_FIELDS = ("study", "methods", "sparsities", "seeds")


@dataclass
class Sweep:
    study: str
    configs: list[RunConfig]
    command: str = ""
    """the command line that computes it"""
    failed: list[tuple[str, str]] = field(default_factory=list)


def _check_list(sweep: dict, name: str, kind: type, allowed, allowed_text: str) -> list:
    values = sweep.get(name)
    if not isinstance(values, list) or not values:
        raise ConfigError(f"sweep.{name}: expected a non-empty list")
    for value in values:
        if not isinstance(value, kind) or isinstance(value, bool) or not allowed(value):
            raise ConfigError(f"sweep.{name}: {value!r} is not allowed; allowed: {allowed_text}")
    if len(set(values)) != len(values):
        raise ConfigError(f"sweep.{name}: {values} has repeats")
    return values


def load_sweep(path: str | Path, overrides: list[str] = ()) -> Sweep:
    """Read a sweep file: every run config it expands to, validated."""
    values = read_toml(path, overrides)
    sweep = values.pop("sweep", None)
    if not isinstance(sweep, dict):
        raise ConfigError(f"sweep: {path} has no [sweep] table (fields: {', '.join(SWEEP_FIELDS)})")
    unknown = sorted(set(sweep) - set(SWEEP_FIELDS))
    if unknown:
        raise ConfigError(f"sweep.{unknown[0]}: unknown field; allowed: {', '.join(SWEEP_FIELDS)}")
    structured = "spp" in values
    labels = STRUCTURED_METHODS if structured else variants()
    methods = _check_list(sweep, "methods", str, labels.__contains__, ", ".join(labels))
    sparsities = _check_list(sweep, "sparsities", float, lambda s: 0 <= s < 1, "decimals in [0, 1)")
    seeds = _check_list(sweep, "seeds", int, lambda s: s >= 0, "integers >= 0")
    try:
        study = check_study_name(sweep.get("study", Path(path).stem))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    configs = []
    for seed, sparsity, method in itertools.product(seeds, sparsities, methods):
        run = copy.deepcopy(values)
        run["seed"] = seed
        if not structured:
            run.setdefault("prune", {}).update(labels[method], sparsity=sparsity)
        elif labels[method].per_target:
            run["spp"].update(method=method, target=sparsity, recover=[sparsity])
        elif sparsity == sparsities[0]:
            run["spp"].update(method=method)
        else:
            continue
        configs.append(config_from_dict(run))
    command = " ".join(["python -m pruning sweep", str(path), *(f"--set {shlex.quote(o)}" for o in overrides)])
    return Sweep(study, configs, command)


def shard(text: str | None) -> tuple[int, int]:
    """'I/N' -> (I, N), 0 <= I < N; None -> (0, 1), the whole study."""
    if text is None:
        return 0, 1
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ConfigError(f"shard: {text!r} is not allowed; must be I/N with 0 <= I < N, e.g. 0/4")
    return int(index), int(count)


def run_sweep(sweep: Sweep, root: str | Path | None = None, device: str = "cpu",
              part: tuple[int, int] = (0, 1), checkpoint_every: int = 0, resume: bool = False,
              progress: ProgressFile | None = None) -> Sweep:
    """Record the study, then execute its runs in order on `device` (execute returns a done run
    as it is); a run that fails is noted in `sweep.failed` and the sweep goes on. `part` = (I, N)
    runs every N-th run from the I-th: N processes with I = 0..N-1 share a study, the run lock
    making one of them compute a dense run the others need while they wait. `checkpoint_every`
    and `resume`: as execute's, for every run; `progress` hears of every run and step."""
    from .runner import execute, run_title

    resolve_device(device)  # a bad device fails here, before the study is recorded
    root = runs_root(root)
    if is_writer():  # under torchrun, rank 0
        write_study(root, sweep.study, [dict(run_id=c.run_id, method=c.label, sparsity=c.sparsity, seed=c.seed)
                                        for c in sweep.configs], sweep.command)
    index, count = part
    sweep.configs = sweep.configs[index::count]
    bar = tqdm(sweep.configs, desc=f"sweep {sweep.study}", unit="run", dynamic_ncols=True)
    for index, config in enumerate(bar):
        bar.set_postfix_str(f"{run_title(config)} seed {config.seed}")
        if progress is not None:
            progress.next_run(index, len(sweep.configs), f"{run_title(config)} seed {config.seed}")
        try:
            execute(config, root, on_progress=progress, device=device, checkpoint_every=checkpoint_every,
                    resume=resume)
        except ConfigError:
            raise
        except Exception as error:
            sweep.failed.append((config.run_id, f"{type(error).__name__}: {error}"))
    return sweep
