"""Reproduction: each claim of the SEVEN paper tested on our runs, with the verdict and its evidence."""

import streamlit as st

from analysis.findings import verdict_finding
from analysis.report import comparison_grid, evaluate
from analysis.store import runs_root
from ui.common import reading, recompute_commands, runs

VERDICT_BOX = {"held": st.success, "not held": st.error, "not testable here": st.warning}


@st.cache_data(show_spinner="Testing the claims…", max_entries=4)
def _claims(root: str, finished: tuple[str, ...]):
    """The claims, recomputed when the set of finished runs changes."""
    return evaluate(root)


st.title("Reproduction")
st.caption("Each claim of the SEVEN paper that PruneScope tests, on all-MiniLM-L6-v2 instead of BERT-base and on "
           "movie-reviews, TREC and SMS spam instead of GLUE. A verdict reads the seed-paired bootstrap intervals, "
           "not the means: held when the method is ahead in at least half of its comparisons and behind in none. "
           "The paper's own tables could not be read from the text we have, so only the direction of each claim "
           "is compared. `python -m pruning report` prints the same; the README shows it for the shipped studies.")
done = tuple(sorted(r.run_id for r in runs() if r.status == "done"))
claims = _claims(str(runs_root()), done)
by_id = {r.run_id: r for r in runs()}
reading("One section per claim: what the paper says, our verdict and why, the numbers (mean ± std over seeds), "
        "the method minus each baseline seed by seed with a 95% interval (positive: the method is better), and "
        "links to the runs behind it.", verdict_finding([claim.verdict for claim in claims]))


def show(claim, heading=st.subheader) -> None:
    """A claim: what is said, the verdict and why, the numbers, the paired differences, its runs."""
    spec = claim.spec
    heading(spec.title)
    st.markdown(f"**{spec.said_by}:** {spec.paper}")
    VERDICT_BOX[claim.verdict](f"**{claim.verdict}**: {claim.why}")
    if claim.table.empty:
        return
    st.markdown(f"{spec.label[0].upper() + spec.label[1:]}, mean ± std (seeds)")  # full width: 50/70/90% fit
    st.dataframe(claim.table, width="stretch")
    st.markdown(f"{spec.method} minus each baseline [95% interval], positive = better")
    st.dataframe(comparison_grid(claim), width="stretch")
    shipped = next((by_id[i].shipped for i in claim.run_ids if i in by_id and by_id[i].shipped), None)
    with st.expander(f"The {len(claim.run_ids)} runs behind it" + (" (shipped)" if shipped else "")
                     + " and the commands that recompute them"):
        st.markdown("\n".join(f"- [{by_id[i].label}](layer-sparsity?run={i})" for i in claim.run_ids if i in by_id))
        if claim.command or shipped:
            recompute_commands(claim.command or shipped["command"])


for claim in claims:
    show(claim)
    if claim.control is not None:
        show(claim.control, heading=lambda title: st.markdown(f"#### {title}"))
