"""The memory bench's child script is code in a string (no import checks it): run it."""

from bench.seven_memory import _peak


def test_the_child_script_runs_sevendyn_and_reports_its_peak():
    dyn = _peak("dyn")
    assert dyn["peak_kb"] > 0 and dyn["prunable_bytes"] == 4 * 10_616_832  # MiniLM's prunable weights
