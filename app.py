"""PruneScope dashboard: navigation over the pages. Run with `streamlit run app.py`.

Every page has its own path, the Runs page's included (/runs): the root path only forwards to it
with its query, since Streamlit serves a default page at / and not at its url_path."""

import streamlit as st

st.set_page_config(page_title="PruneScope", layout="wide")

PAGES = [
    st.Page("views/runs.py", title="Runs", icon=":material/table_chart:", url_path="runs"),
    st.Page("views/compare.py", title="Compare methods", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("views/layer_sparsity.py", title="Layer sparsity", icon=":material/grid_on:", url_path="layer-sparsity"),
    st.Page("views/solution_path.py", title="Solution path", icon=":material/timeline:", url_path="solution-path"),
    st.Page("views/structured.py", title="Structured comparison", icon=":material/view_column:",
            url_path="structured"),
    st.Page("views/gradient_noise.py", title="Gradient noise", icon=":material/ssid_chart:", url_path="gradient-noise"),
    st.Page("views/sentinels.py", title="Sentinels", icon=":material/scatter_plot:", url_path="sentinels"),
    st.Page("views/two_runs.py", title="Two runs", icon=":material/splitscreen:", url_path="two-runs"),
    st.Page("views/reproduction.py", title="Reproduction", icon=":material/fact_check:", url_path="reproduction"),
    st.Page("views/new_run.py", title="New run", icon=":material/play_circle:", url_path="new-run"),
]


def to_runs() -> None:
    st.switch_page(PAGES[0], query_params=st.query_params.to_dict())


page = st.navigation([st.Page(to_runs, title="PruneScope", url_path="home", default=True), *PAGES], position="hidden")
with st.sidebar:
    for link in PAGES:
        st.page_link(link)
    st.divider()
    st.caption("PruneScope · why a pruning method keeps the weights it keeps")
page.run()  # each page draws the sidebar run picker (ui.common.run_picker) first
