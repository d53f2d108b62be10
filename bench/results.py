"""The recorded bench results (bench/results.jsonl, one JSON line per bench run made with
`python -m bench NAME --record`) and the README's bench tables, rendered from them:
`python -m bench.results --readme README.md`. A figure's cell is its range over the recorded runs
of one (bench, model, device); a goal is met "in k of n" runs, never read off one run."""

import argparse
import fnmatch
import json
import subprocess
import time
from pathlib import Path

import pandas as pd

from analysis.readme import markdown_table, replace_block

RESULTS = Path(__file__).resolve().parent / "results.jsonl"
CONTEXT = ("bench", "model", "device", "gpu", "threads", "recorded", "commit", "goals", "repeats")
"""what a record carries besides its figures"""


def record(line: dict, path: Path = RESULTS) -> None:
    """Append one bench's result, with the UTC time and the commit it measured."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path.parent, capture_output=True,
                            text=True).stdout.strip()
    stamped = {**line, "recorded": time.strftime("%Y-%m-%d", time.gmtime()), "commit": commit or None}
    with path.open("a") as out:
        out.write(json.dumps(stamped) + "\n")


def load(path: Path = RESULTS) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _is_grid(value) -> bool:
    """A figure per item and measure ({page: {cold_s: …, warm_s: …}}): a table of its own."""
    return isinstance(value, dict) and bool(value) and all(isinstance(v, dict) for v in value.values())


def _flat(figures: dict, prefix: str = "") -> dict[str, float]:
    """Numeric figures by dotted name (lists, e.g. the demo's timeline, are left out)."""
    out = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = value
    return out


COMPARE = {"<=": float.__le__, "<": float.__lt__, ">=": float.__ge__, ">": float.__gt__}


def _meets(value: float, goal: str) -> bool:
    """`goal`: "OP X", OP one of COMPARE."""
    op, bound = goal.split()
    return COMPARE[op](float(value), float(bound))


def _range(values: list[float]) -> str:
    low, high = min(values), max(values)
    text = f"{low:g}" if low == high else f"{low:g} to {high:g}"
    return f"{text} ({len(values)} runs)" if len(values) > 1 else text


def _cells(records: list[dict], figures: list[dict]) -> dict[str, tuple[str, str, str]]:
    """Dotted name -> (range over the runs, goal, "k of n" runs that met it). Goals name figures
    by pattern (`first_paint.*.cold_s`)."""
    flats = [_flat(f) for f in figures]
    goals = {pattern: goal for r in records for pattern, goal in (r.get("goals") or {}).items()}
    cells = {}
    for name in dict.fromkeys(k for flat in flats for k in flat):
        values = [flat[name] for flat in flats if name in flat]
        goal = next((g for pattern, g in goals.items() if fnmatch.fnmatchcase(name, pattern)), None)
        cells[name] = (_range(values), goal or "", f"{sum(_meets(v, goal) for v in values)} of {len(values)}"
                       if goal else "")
    return cells


def figure_table(records: list[dict]) -> pd.DataFrame:
    """Per figure of one (bench, model, device) that is not a grid: its range over the runs, its
    goal and in how many runs the goal was met."""
    figures = [{k: v for k, v in r.items() if k not in CONTEXT and not _is_grid(v)} for r in records]
    rows = [{"figure": name, "recorded": cell[0], "goal": cell[1], "met in": cell[2]}
            for name, cell in _cells(records, figures).items()]
    return pd.DataFrame(rows).set_index("figure")


def grid_tables(records: list[dict]) -> dict[str, pd.DataFrame]:
    """Per grid figure (first_paint: page x measure), its items by measures; a cell is the range
    over the runs, with "(goal G: met k of n)" where a goal applies."""
    names = dict.fromkeys(k for r in records for k, v in r.items() if k not in CONTEXT and _is_grid(v))
    tables = {}
    for name in names:
        cells = _cells(records, [{name: r[name]} for r in records if name in r])
        rows: dict[str, dict] = {}
        for dotted, (recorded, goal, met) in cells.items():
            item, measure = dotted.removeprefix(f"{name}.").rsplit(".", 1)
            rows.setdefault(item, {})[measure] = f"{recorded} (goal {goal}: met {met})" if goal else recorded
        tables[name] = pd.DataFrame.from_dict(rows, orient="index").rename_axis(name)
    return tables


def render(records: list[dict]) -> str:
    """One table per (bench, model, device), in the order first recorded."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["bench"], r.get("model"), r.get("gpu") or r.get("device")), []).append(r)
    parts = []
    for (bench, model, device), rows in groups.items():
        dates = sorted({r["recorded"] for r in rows})
        commits = ", ".join(dict.fromkeys(r["commit"] for r in rows if r.get("commit")))
        parts.append(f"**{bench}** ({model}, {device}, {rows[-1].get('threads')} threads; "
                     f"{len(rows)} run{'s' if len(rows) > 1 else ''}, {dates[0]}"
                     f"{' to ' + dates[-1] if len(dates) > 1 else ''}; commit {commits})\n\n"
                     + "\n\n".join([markdown_table(figure_table(rows)),
                                     *(markdown_table(t) for t in grid_tables(rows).values())]))
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.results", description=__doc__)
    parser.add_argument("--readme", help="rewrite this README's bench block instead of printing")
    args = parser.parse_args()
    text = render(load())
    if args.readme:
        replace_block(args.readme, "bench", text)
        print(f"{args.readme}: the bench block rewritten from {RESULTS}")
    else:
        print(text)


if __name__ == "__main__":
    main()
