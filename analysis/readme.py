"""The README's generated blocks: text between `<!-- NAME:start -->` and `<!-- NAME:end -->`,
rewritten by the command that computes it, never by hand."""

import re
from pathlib import Path

import pandas as pd


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(\n<!-- {name}:end -->)", re.S)


def has_block(path: str | Path, name: str) -> bool:
    return _pattern(name).search(Path(path).read_text()) is not None


def read_block(path: str | Path, name: str) -> str:
    found = _pattern(name).search(Path(path).read_text())
    if not found:
        raise ValueError(f"{path} has no {name} block (<!-- {name}:start --> … <!-- {name}:end -->)")
    return found.group(2)


def replace_block(path: str | Path, name: str, text: str) -> None:
    read_block(path, name)
    path = Path(path)
    path.write_text(_pattern(name).sub(lambda m: m.group(1) + text + m.group(3), path.read_text()))


def markdown_table(frame: pd.DataFrame) -> str:
    """A frame as a markdown table, its index as the first column, empty cells for NaN."""
    frame = frame.reset_index()
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([header, rule, *body])
