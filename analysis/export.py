"""What a reader takes away from a figure: the data it draws as one long table (one row per
point, or per cell of a heatmap that has a value), and the figure as a standalone HTML file, interactive and
offline, whose camera button saves SVG (the dashboard's saves PNG at twice the size)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go

COLUMNS = ("x", "y", "z", "text", "customdata")


def figure_table(fig: go.Figure) -> pd.DataFrame:
    """trace, type, x, y, z, text, customdata (where a trace has them) of every trace; a heatmap
    gives one row per cell that has a value."""
    frames = []
    for i, trace in enumerate(fig.data):
        name = trace.name or f"trace {i}"
        if trace.type == "heatmap":
            z = np.asarray(trace.z, dtype=object)
            rows, cols = z.shape
            x = list(trace.x) if trace.x is not None else list(range(cols))
            y = list(trace.y) if trace.y is not None else list(range(rows))
            frame = pd.DataFrame({"x": np.tile(x, rows), "y": np.repeat(y, cols), "z": z.reshape(-1)})
            custom = np.asarray(trace.customdata, dtype=object) if trace.customdata is not None else None
            if custom is not None and custom.shape[:2] == (rows, cols):  # what each cell is: (method, layer, module)
                frame["customdata"] = list(custom.reshape(rows * cols, -1))
            frame = frame[pd.notna(frame["z"])]  # empty cells (between panels, or nothing measured) are no data
        else:
            values = {c: getattr(trace, c, None) for c in COLUMNS if c != "z"}
            values = {c: list(v) for c, v in values.items() if v is not None and not isinstance(v, str)}
            if not values:
                continue
            length = max(len(v) for v in values.values())
            frame = pd.DataFrame({c: v for c, v in values.items() if len(v) == length})
        frames.append(frame.assign(trace=name, type=trace.type))
    if not frames:
        return pd.DataFrame(columns=["trace", "type", *COLUMNS])
    table = pd.concat(frames, ignore_index=True)
    ordered = ["trace", "type", *(c for c in COLUMNS if c in table)]
    table = table[ordered]
    for column in ("customdata", "z", "x", "y", "text"):  # a point's several values as one text
        if column in table:
            table[column] = table[column].map(lambda v: str(list(v)) if isinstance(v, list | tuple | np.ndarray) else v)
    return table


def figure_html(fig: go.Figure, name: str) -> str:
    """The figure as one HTML file with plotly.js inside; its camera saves `name`.svg."""
    return fig.to_html(include_plotlyjs=True, full_html=True,
                       config={"toImageButtonOptions": {"format": "svg", "filename": name}})
