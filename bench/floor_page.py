"""The floor of a dashboard page: a bare Streamlit page with a slider and a 3-point Plotly chart
that the slider redraws (in a fragment, as the dashboard's controls are). `python -m bench
dashboard` serves it beside the dashboard: no page that draws a Plotly chart paints sooner, and no
control redraws faster, than this page does in the same browser."""

import plotly.graph_objects as go
import streamlit as st

st.title("Floor")


@st.fragment
def chart() -> None:
    top = st.slider("Top", 1, 9, 3)
    st.plotly_chart(go.Figure(go.Scatter(x=[0, 1, 2], y=[1, top, 2])))


chart()
