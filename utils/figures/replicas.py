"""BatchNormalization across replicas and workers (10)."""

import matplotlib.pyplot as plt
import numpy as np

from utils.figures.style import STYLE, finish


def plot_worker_variance(rows: dict[str, np.ndarray], batches: dict[str, np.ndarray],
                         features: list[str]) -> plt.Figure:
    """Moving variances after one step, against the variances they could have come from.

    Args:
        rows: a label for each measured moving variance -> its values, one per feature.
        batches: a label for each reference (each worker's batch, their average, the
            global batch) -> its variance per feature.
        features: the features' names.
    """
    bar_colours = ["#bde0fe", "#8ecae6", "#219ebc", "#023047"]
    marker_colours = ["#f4a259", "#c0392b", "#7b2cbf"]
    markers = ["o", "s", "D"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.2))
        x = np.arange(len(features))
        width = 0.8 / len(batches)
        for i, (label, values) in enumerate(batches.items()):
            ax.bar(x - 0.4 + (i + 0.5) * width, values, width=width * 0.95, color=bar_colours[i % 4], label=label)
        for i, (label, values) in enumerate(rows.items()):
            ax.plot(x + (i - (len(rows) - 1) / 2) * 0.12, values, linestyle="none", marker=markers[i % 3],
                    markersize=10, color=marker_colours[i % 3], markeredgecolor="black", label=label)
        ax.set_xticks(x, features)
        ax.set_ylabel("variance of the feature")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.grid(axis="y", alpha=0.3)
    return finish(fig)

