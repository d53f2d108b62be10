"""The README's generated blocks: text between `<!-- NAME:start -->` and `<!-- NAME:end -->`,
rewritten by the command that computes it, never by hand."""

import re
from pathlib import Path


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
