"""A study's recompute commands: the fewest sweeps that plan the same runs, on the real configs."""

import shlex

from analysis.commands import covering_commands
from pruning.sweep import load_sweep

BUDGET = "python -m pruning sweep configs/budget.toml"


def _planned(commands: list[str]) -> set[str]:
    """The run ids the sweeps plan, as the CLI would read them."""
    ids = set()
    for command in commands:
        words = shlex.split(command)
        ids |= {c.run_id for c in load_sweep(words[4], words[6::2]).configs}
    return ids


def test_slices_that_fill_the_grid_become_the_plain_sweep():
    slices = [f"{BUDGET} --set 'sweep.sparsities=[0.5, 0.7]'", f"{BUDGET} --set 'sweep.sparsities=[0.9]' "
              "--set 'sweep.seeds=[0]'", f"{BUDGET} --set 'sweep.seeds=[1]' --set 'sweep.sparsities=[0.9]'"]
    assert covering_commands(slices) == [BUDGET]
    assert _planned(slices) == _planned([BUDGET])


def test_slices_on_one_axis_merge_and_covered_ones_go():
    one = f"{BUDGET} --set 'sweep.methods=[\"SEVENpre\"]' --set 'sweep.sparsities=[0.9]'"
    two = f"{BUDGET} --set 'sweep.methods=[\"SNIP\"]' --set 'sweep.sparsities=[0.9]'"
    inside = f"{BUDGET} --set 'sweep.methods=[\"SNIP\"]' --set 'sweep.sparsities=[0.9]' --set 'sweep.seeds=[1]'"
    out = covering_commands([one, inside, two])
    assert out == [f"{BUDGET} --set 'sweep.methods=[\"SEVENpre\", \"SNIP\"]' --set 'sweep.sparsities=[0.9]'"]
    assert _planned(out) == _planned([one, two, inside])


def test_other_overrides_keep_their_own_group_and_other_commands_stay():
    window = f"{BUDGET} --set prune.start=32 --set 'sweep.sparsities=[0.9]'"
    plain = f"{BUDGET} --set 'sweep.sparsities=[0.9]'"
    foreign = ["python -m pruning sweep absent.toml --set 'sweep.seeds=[0]'",
               "python -m pruning run configs/smoke.toml"]
    assert covering_commands([window, *foreign, plain, plain]) == [window, *foreign, plain]


def test_a_study_written_with_joined_commands_keeps_the_fewest(tmp_path):
    """Import hands write_study a bundle's commands joined by " && "."""
    from analysis.store import study_record, write_study

    slices = [f"{BUDGET} --set 'sweep.sparsities=[0.5, 0.7]'", f"{BUDGET} --set 'sweep.sparsities=[0.9]'"]
    write_study(tmp_path, "budget", [], " && ".join(slices))
    assert study_record(tmp_path, "budget")["command"] == BUDGET
