"""Command line: python -m pruning {run, sweep, list, show, export, demo, methods, bundle, import, report,
worker, histograms}.

Exit codes: 0 done, 1 the run failed while computing, 2 bad input (nothing written).
"""

import argparse
import contextlib
import json
import sys

import pandas as pd

from analysis.solution_path import BUDGETS
from analysis.store import Run, list_runs, list_studies, load_table, read_run, runs_root
from analysis.tables import final_metrics

from .config import ConfigError, load_config
from .devices import DEVICE_CHOICES
from .methods import METHODS
from .progress import ProgressFile


def _run(args) -> int:
    from .runner import execute

    overrides = list(args.set)
    for flag, key in (("method", "prune.method"), ("sparsity", "prune.sparsity"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={json.dumps(getattr(args, flag))}")
    config = load_config(args.config, overrides)
    progress = ProgressFile(args.progress) if args.progress else None
    with _reported(progress):
        path = execute(config, args.runs, on_progress=progress, device=args.device,
                       checkpoint_every=args.checkpoint_every, resume=args.resume)
    print(path)
    return 0


@contextlib.contextmanager
def _reported(progress: ProgressFile | None):
    """Record in the progress file how the command ended."""
    try:
        yield
    except BaseException as error:
        if progress is not None:
            progress.end("failed", error=f"{type(error).__name__}: {error}")
        raise
    if progress is not None:
        progress.end("done")


def _sweep(args) -> int:
    from .sweep import load_sweep, run_sweep, shard

    study = load_sweep(args.config, args.set)
    progress = ProgressFile(args.progress) if args.progress else None
    with _reported(progress):
        sweep = run_sweep(study, args.runs, args.device, shard(args.shard), args.checkpoint_every, args.resume,
                          progress)
    print(f"study {sweep.study}: {len(sweep.configs) - len(sweep.failed)} of {len(sweep.configs)} runs done"
          + (f" (shard {args.shard})" if args.shard else ""))
    for run_id, error in sweep.failed:
        print(f"failed {run_id}: {error}", file=sys.stderr)
    return 1 if sweep.failed else 0


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(args.runs, args.device)
    return 0


def _histograms(args) -> int:
    from .backfill import backfill

    print(f"added kept / pruned histograms to {backfill(args.runs)} runs")
    return 0


def _worker(args) -> int:
    from analysis.jobs import work

    print(f"{work(runs_root(args.runs))} jobs run")
    return 0


def _list(args) -> int:
    runs = list_runs(args.runs)
    if not runs:
        print(f"no runs in {runs_root(args.runs)}; make one with: python -m pruning run CONFIG")
        return 0
    table = final_metrics(runs)
    columns = ["run_id", "status", "method", "sparsity", "seed", "model", "data", "val_accuracy",
               "test_accuracy"]
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(table[columns].to_string(index=False))
    return 0


def _find(root, run_id: str) -> Run:
    matches = [r for r in list_runs(root) if r.run_id.startswith(run_id)]
    if len(matches) != 1:
        found = "no run" if not matches else f"{len(matches)} runs"
        raise ConfigError(f"run: {found} under {runs_root(root)} match {run_id!r}")
    return read_run(matches[0].path)


def _show(args) -> int:
    run = _find(args.runs, args.run)
    if run.problem:
        print(f"{run.run_id}: broken ({run.problem})")
        return 1
    m = run.manifest
    print(f"{run.run_id}  {run.label}  status={m['status']}  model={m.get('model')}  "
          f"data={m.get('data', {}).get('name')}  data_hash={m.get('data', {}).get('hash', '')[:12]}")
    print(json.dumps(m.get("results", {}), indent=2))
    if m["status"] == "done" and run.is_path:
        with pd.option_context("display.width", 160):
            print(load_table(run, "speed").to_string(index=False))
    elif m["status"] == "done" and run.is_sensitivity:
        scan = load_table(run, "sensitivity")
        print("validation accuracy with one matrix pruned (columns: its sparsity)")
        print(scan[scan["metric"] == "accuracy"].pivot_table(index=["layer", "module"], columns="sparsity",
                                                               values="value", sort=False).to_string())
    elif m["status"] == "done":
        layers = load_table(run, "layers")
        with pd.option_context("display.width", 160, "display.max_rows", 500):
            print(layers[["layer", "module", "rows", "cols", "nonzero", "sparsity"]].to_string(index=False))
    else:
        print(m.get("error", ""))
    return 0


def _export(args) -> int:
    from .spp_run import export_subnetwork

    run = _find(args.runs, args.run)
    if not run.is_path:
        from .export import export_pruned

        out = export_pruned(run.path, args.out)
        print(f"{out}/masks.safetensors, {out}/torch_prune.safetensors (torch.nn.utils.prune's weight_orig and "
              f"weight_mask) and {out}/masked (save_pretrained: the dense weights with the masks, before recovery)")
        return 0
    if args.sparsity is None:
        raise ConfigError(f"--sparsity: {run.run_id} is a structured run; give the sparsity to read off, in [0, 1]")
    out = export_subnetwork(run.path, args.sparsity, args.out, args.budget)
    print(f"{out}/compressed (load with pruning.compress.load_compressed), {out}/compressed.onnx (onnxruntime) "
          f"and {out}/masked (save_pretrained)")
    return 0


def _bundle(args) -> int:
    from analysis.bundle import export_bundle

    if args.study not in list_studies(args.runs):
        raise ConfigError(f"study: {args.study!r} is not recorded under {runs_root(args.runs)}; "
                          f"recorded: {', '.join(list_studies(args.runs)) or 'none'}")
    path = export_bundle(args.study, args.out, args.runs)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _import(args) -> int:
    from analysis.bundle import BundleError, import_bundle

    for path in args.bundles:
        try:
            study, added = import_bundle(path, args.runs)
        except BundleError as error:
            raise ConfigError(str(error)) from None
        print(f"{path}: study {study}, {len(added)} runs added")
    return 0


def _report(args) -> int:
    from analysis.readme import has_block, replace_block
    from analysis.report import evaluate, render_markdown, study_costs
    from analysis.signs import sign_block
    from analysis.structured_compare import structured_block

    from .bad_inputs import bad_inputs_markdown

    blocks = {"report": lambda: render_markdown(evaluate(args.runs), study_costs(args.runs)),
              "structured": lambda: structured_block(args.runs), "signs": lambda: sign_block(args.runs),
              "bad-inputs": bad_inputs_markdown}
    if not args.readme:
        print("\n\n".join(render() for render in blocks.values()))
        return 0
    present = [name for name in blocks if has_block(args.readme, name)]
    if not present:
        raise ConfigError(f"--readme: {args.readme} has none of the blocks "
                          f"{', '.join(f'<!-- {n}:start -->' for n in blocks)}")
    for name in present:
        replace_block(args.readme, name, blocks[name]())
        print(f"{args.readme}: the {name} block rewritten from {runs_root(args.runs)}")
    return 0


def _methods(args) -> int:
    from .catalogue import method_help, methods_markdown, structured_help
    from .structured_methods import STRUCTURED_METHODS

    if args.markdown:
        print(methods_markdown())
        return 0
    described = {**{name: method_help(m) for name, m in METHODS.items()},
                 **{name: structured_help(m) for name, m in STRUCTURED_METHODS.items()}}
    if args.name and args.name not in described:
        raise ConfigError(f"method: {args.name!r} is not one of {', '.join(described)}")
    print("\n\n".join([described[args.name]] if args.name else described.values()))
    return 0


def _steps(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; must be a whole number of steps >= 0")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m pruning", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a TOML run config")
    run.add_argument("config")
    run.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                     help="override a config field (repeatable)")
    run.add_argument("--method", help=f"prune.method: one of {', '.join(METHODS)}; its hyperparameters "
                                      "(--set prune.hparams.NAME=VALUE): python -m pruning methods NAME")
    run.add_argument("--sparsity", type=float, help="prune.sparsity in [0, 1)")
    run.add_argument("--seed", type=int)
    run.set_defaults(handler=_run)
    sweep = sub.add_parser("sweep", help="run a config's [sweep]: methods x sparsities x seeds, resumable")
    sweep.add_argument("config")
    sweep.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                       help="override a config field (repeatable)")
    sweep.add_argument("--shard", metavar="I/N",
                       help="run only share I of N (0 <= I < N) of the study's runs, e.g. one per Slurm array task "
                            "or GPU; shards share the runs folder")
    sweep.set_defaults(handler=_sweep)
    for name, handler, text in (("list", _list, "list runs"), ("demo", _demo, "compute the demo"),
                                ("worker", _worker, "run the dashboard's queued jobs (runs/.jobs) one at a time"),
                                ("histograms", _histograms, "add kept / pruned histograms to runs that predate them")):
        sub.add_parser(name, help=text).set_defaults(handler=handler)
    bundle = sub.add_parser("bundle", help="write a study's finished runs as a light zip (no masks or weights)")
    bundle.add_argument("study")
    bundle.add_argument("--out", required=True, help="the zip to write")
    bundle.set_defaults(handler=_bundle)
    importer = sub.add_parser("import", help="import study bundles into the runs folder, after validating them")
    importer.add_argument("bundles", nargs="+")
    importer.set_defaults(handler=_import)
    report = sub.add_parser("report", help="the SEVEN paper's claims tested on the runs: tables and verdicts")
    report.add_argument("--readme", help="rewrite this README's report block instead of printing")
    report.set_defaults(handler=_report)
    methods = sub.add_parser("methods", help="the pruning methods: variants, needs, hyperparameters")
    methods.add_argument("name", nargs="?", help="one method's details")
    methods.add_argument("--markdown", action="store_true", help="the README's method table")
    methods.set_defaults(handler=_methods)
    show = sub.add_parser("show", help="a run's manifest, results and per-layer sparsity")
    show.add_argument("run", help="run_id or a unique prefix")
    show.set_defaults(handler=_show)
    export = sub.add_parser("export", help="write a pruned run's masks (safetensors, torch prune layout) and masked "
                                           "model, or a structured run's sub-network at one sparsity")
    export.add_argument("run", help="run_id or a unique prefix of a pruned or structured run")
    export.add_argument("--sparsity", type=float, help="structured runs: the sparsity to read off, in [0, 1]")
    export.add_argument("--out", required=True, help="output directory")
    export.add_argument("--budget", choices=BUDGETS, help="read-off budget (default: the run's)")
    export.set_defaults(handler=_export)
    for command in sub.choices.values():
        command.add_argument("--runs", default=None, help="runs directory (default $PRUNESCOPE_RUNS or ./runs)")
    for command in (run, sweep):
        command.add_argument("--checkpoint-every", type=_steps, default=50, metavar="STEPS",
                             help="save each fine-tuning, search and recovery every STEPS steps, for --resume "
                                  "(default 50; 0: never)")
        command.add_argument("--resume", action="store_true",
                             help="continue killed runs from their last checkpoint (same thread count: exact)")
        command.add_argument("--progress", metavar="FILE", help="also report progress to this JSON file")
    for command in (run, sweep, sub.choices["demo"]):
        command.add_argument("--device", default="cpu",
                             help=f"where to compute: {DEVICE_CHOICES} (default cpu: bit-reproducible; "
                                  "auto: a CUDA GPU if there is one)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a run that failed while computing is recorded as failed
        print(f"error: run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
