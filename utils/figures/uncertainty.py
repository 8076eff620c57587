"""Uncertainty: Monte Carlo Dropout and calibration (05, 08)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.dropout import predictive_entropy
from utils.figures.style import BATCH_COLOUR, MOVING_COLOUR, STYLE, WRONG_COLOUR, finish


def plot_mc_uncertainty(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                        count: int = 8) -> plt.Figure:
    """The `count` most certain and most uncertain digits under Monte Carlo dropout.

    Args:
        images: the digits, shape (n, 28, 28, 1).
        labels: their true classes.
        probabilities: `mc_predict` output for them, shape (samples, n, classes).
        count: digits per row.
    """
    entropy = predictive_entropy(probabilities)
    mean = probabilities.mean(axis=0)
    order = np.argsort(entropy)
    rows = {"most\ncertain": order[:count], "most\nuncertain": order[::-1][:count]}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, count, figsize=(1.45 * count + 0.6, 4.4))
        for ax_row, (title, chosen) in zip(axes, rows.items()):
            for ax, i in zip(ax_row, chosen):
                predicted = int(mean[i].argmax())
                ax.imshow(images[i].squeeze(), cmap="gray_r")
                ax.set_title(f"{predicted} ({mean[i, predicted]:.0%})\ntrue {labels[i]}", fontsize=10,
                             color="black" if predicted == labels[i] else WRONG_COLOUR)
                ax.set_xticks([])
                ax.set_yticks([])
            ax_row[0].set_ylabel(title)
        fig.suptitle("Monte Carlo dropout: predicted class (mean probability) and true class")
        legend = [plt.Line2D([], [], color=colour, linewidth=4) for colour in ("black", WRONG_COLOUR)]
        fig.legend(legend, ["right", "wrong"], loc="lower center", ncol=2, frameon=False)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        plt.close(fig)
    return fig


def plot_reliability(tables: dict[str, pd.DataFrame]) -> plt.Figure:
    """Reliability diagrams: accuracy against confidence per bin, one line per model.

    Args:
        tables: label -> what `reliability()` returned for that model.
    """
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 5.8))
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
        for (label, table), colour in zip(tables.items(), (BATCH_COLOUR, MOVING_COLOUR, WRONG_COLOUR)):
            ax.plot(table["confidence"], table["accuracy"], "o-", color=colour, label=label)
        ax.set_xlabel("confidence (probability of the class picked)")
        ax.set_ylabel("accuracy in that bin")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1))
        ax.text(1.05, 0.02, "above the line:\nright more often than sure\n\nbelow the line:\nsurer than right",
                transform=ax.transAxes, ha="left", va="bottom", fontsize=10, color="dimgrey")
    return finish(fig)

