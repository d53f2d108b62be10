"""The README's generated parts are current: the method table is what the registry says."""

from analysis.bundle import import_bundle
from analysis.readme import read_block
from analysis.report import evaluate, render_markdown, study_costs
from analysis.signs import sign_block
from analysis.structured_compare import structured_block
from bench.results import load as load_bench
from bench.results import render as render_bench
from pruning.bad_inputs import bad_inputs_markdown
from pruning.catalogue import methods_markdown

from .conftest import ROOT


def test_method_table_is_the_registry_s():
    assert read_block(ROOT / "README.md", "methods") == methods_markdown(), "run: python -m pruning methods --markdown"


def test_bad_input_table_is_what_the_cli_says():
    assert read_block(ROOT / "README.md", "bad-inputs") == bad_inputs_markdown(), (
        "run: python -m pruning report --readme README.md")


def test_report_is_what_the_shipped_bundles_say(tmp_path):
    for bundle in sorted((ROOT / "studies").glob("*.zip")):
        import_bundle(bundle, tmp_path)
    expected = render_markdown(evaluate(tmp_path), study_costs(tmp_path))
    assert read_block(ROOT / "README.md", "report") == expected, (
        "run: python -m pruning import studies/*.zip && python -m pruning report --readme README.md")
    for name, block in (("structured", structured_block), ("signs", sign_block)):
        assert read_block(ROOT / "README.md", name) == block(tmp_path), (
            "run: python -m pruning import studies/*.zip && python -m pruning report --readme README.md")


def test_algorithms_reference_resolves():
    assert (ROOT / "docs" / "ALGORITHMS.md").is_file()
    sources = [p for folder in ("pruning", "analysis", "tests") for p in (ROOT / folder).rglob("*.py")]
    for path in sources:
        for line in path.read_text().splitlines():
            if "ALGORITHMS.md" in line and "test_readme" not in path.name:
                assert "docs/ALGORITHMS.md" in line, f"{path.name}: {line.strip()}"


def test_bench_tables_are_the_recorded_results():
    assert read_block(ROOT / "README.md", "bench") == render_bench(load_bench()), (
        "run: python -m bench.results --readme README.md")
