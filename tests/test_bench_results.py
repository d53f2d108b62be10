"""The recorded bench results and their README tables: ranges over runs, goals met in k of n."""

from bench.results import figure_table, grid_tables, load, record, render


def _line(ratio: float, cold: float) -> dict:
    return {"bench": "seven_overhead", "model": "minilm", "device": "cpu", "threads": 2, "repeats": 7,
            "recorded": "2026-12-01", "commit": "eb5f24b",
            "goals": {"ratio*": "<= 1.05", "first_paint.*.cold_s": "< 2"}, "ratio_loop": ratio,
            "first_paint": {"runs": {"cold_s": cold}, "compare": {"cold_s": cold + 1}}, "runs": [{"ended_s": 3}]}


def test_record_appends_a_dated_line_that_load_reads_back(tmp_path):
    path = tmp_path / "results.jsonl"
    record(_line(1.1, 2.5), path)
    record(_line(1.03, 1.9), path)
    lines = load(path)
    assert [line["ratio_loop"] for line in lines] == [1.1, 1.03]
    assert all(len(line["recorded"]) == 10 and "commit" in line for line in lines)
    assert load(tmp_path / "absent.jsonl") == []


def test_figures_are_ranges_over_the_runs_with_their_goals_met_in_k_of_n():
    lines = [_line(1.1, 2.5), _line(1.03, 1.9), _line(1.04, 2.0)]
    table = figure_table(lines)
    assert table.loc["ratio_loop"].tolist() == ["1.03 to 1.1 (3 runs)", "<= 1.05", "2 of 3"]
    assert list(table.index) == ["ratio_loop"]  # context, lists and the page grid are not rows here
    grid = grid_tables(lines)["first_paint"]
    assert grid.loc["runs", "cold_s"] == "1.9 to 2.5 (3 runs) (goal < 2: met 1 of 3)"
    assert grid.loc["compare", "cold_s"] == "2.9 to 3.5 (3 runs) (goal < 2: met 0 of 3)"


def test_render_groups_by_bench_model_and_device():
    other = {**_line(1.0, 1.0), "model": "bert-base"}
    text = render([_line(1.1, 2.5), other, _line(1.0, 1.5)])
    assert text.count("**seven_overhead** (minilm") == 1 and text.count("**seven_overhead** (bert-base") == 1
    assert "1 to 1.1 (2 runs)" in text
