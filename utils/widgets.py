"""Interactive panels; each works on ipywidgets 7.7 (Colab) and 8."""

import ipywidgets as widgets
from IPython.display import display

from utils.probes import matrix_frame

_ALL = "(all)"


def matrix_explorer(rows: list[dict]) -> widgets.VBox:
    """A filterable view of the behaviour matrix: pick a scenario, a call, or both.

    Args:
        rows: what `behaviour_matrix()` returned.

    Returns:
        A panel with two dropdowns above the table of matching rows.
    """
    frame = matrix_frame(rows)
    scenario = widgets.Dropdown(
        options=[_ALL, *frame["scenario"].unique()], value=_ALL, description="scenario"
    )
    call = widgets.Dropdown(options=[_ALL, *frame["call"].unique()], value=_ALL,
                            description="call")
    table = widgets.Output()

    def redraw(_=None):
        shown = frame
        if scenario.value != _ALL:
            shown = shown[shown["scenario"] == scenario.value]
        if call.value != _ALL:
            shown = shown[shown["call"] == call.value]
        table.clear_output(wait=True)
        with table:
            display(shown.reset_index(drop=True))

    scenario.observe(redraw, names="value")
    call.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([scenario, call]), table])
