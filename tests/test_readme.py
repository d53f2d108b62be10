"""The README's generated parts are current: the method table is what the registry says."""

import re

from pruning.catalogue import methods_markdown

from .conftest import ROOT


def _block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert found, f"README.md has no {name} markers"
    return found.group(1)


def test_method_table_is_the_registry_s():
    assert _block("methods") == methods_markdown(), "run: python -m pruning methods --markdown"


def test_algorithms_reference_resolves():
    assert (ROOT / "docs" / "ALGORITHMS.md").is_file()
    sources = [p for folder in ("pruning", "analysis", "tests") for p in (ROOT / folder).rglob("*.py")]
    for path in sources:
        for line in path.read_text().splitlines():
            if "ALGORITHMS.md" in line and "test_readme" not in path.name:
                assert "docs/ALGORITHMS.md" in line, f"{path.name}: {line.strip()}"
