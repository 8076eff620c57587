"""How every figure looks: drawn for a projector at the back of a classroom as much as for a
screen, at `DPI` dots per inch with no text under 10 points, and closed before it is returned so
that a notebook shows it once."""

import matplotlib.pyplot as plt

DPI = 110
STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
}
TRAINING_COLOUR, INFERENCE_COLOUR, NONE_COLOUR = "#f4a259", "#8ecae6", "#e5e5e5"
BATCH_COLOUR, MOVING_COLOUR = "#e07a1f", "#1d4e89"
WRONG_COLOUR = "#c0392b"


def finish(fig: plt.Figure) -> plt.Figure:
    """Lay out `fig`, with tick labels at legible size, and close it so a notebook shows it once."""
    for ax in fig.axes:
        ax.tick_params(labelsize=STYLE["xtick.labelsize"])
    fig.tight_layout()
    plt.close(fig)
    return fig
