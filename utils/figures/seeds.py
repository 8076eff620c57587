"""A comparison over seeds: every run, its mean and its range (05-12)."""

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.figures.style import INFERENCE_COLOUR, MOVING_COLOUR, STYLE, finish


def plot_seeds(table: pd.DataFrame, metrics: dict[str, str] | None = None, title: str | None = None) -> plt.Figure:
    """Every run of every method as a dot, with the mean as a bar and the range as a line.

    Args:
        table: what `over_seeds()` returned.
        metrics: the metrics to draw, each with its axis label; all of them by default.
        title: the figure's title; by default says how many seeds were run.
    """
    if table.empty:
        raise ValueError("plot_seeds needs runs to draw: the table is empty (check the methods and metrics "
                         "selected from what over_seeds returned).")
    if metrics is None:
        metrics = {metric: metric for metric in dict.fromkeys(table["metric"])}
    methods = list(dict.fromkeys(table["method"]))
    seeds = table["seed"].nunique()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(max(5.6 * len(metrics), 8.0), 0.75 * len(methods) + 2.0),
                                 sharey=True, squeeze=False)
        for ax, (metric, label) in zip(axes[0], metrics.items()):
            rows = table[table["metric"] == metric]
            low, high = rows["value"].min(), rows["value"].max()
            span = (high - low) or abs(high) or 1.0
            # From zero when zero is near the data; otherwise from just below it, so that
            # close means (0.73 against 0.76) still look different.
            left = min(0.0, low) if low < 2 * span else low - 0.5 * span
            for row, method in enumerate(methods):
                values = rows.loc[rows["method"] == method, "value"].to_numpy()
                if len(values) == 0:
                    continue
                ax.barh(row, values.mean() - left, left=left, color=INFERENCE_COLOUR, height=0.6,
                        label="mean" if row == 0 else None)
                ax.plot([values.min(), values.max()], [row, row], color=MOVING_COLOUR, linewidth=2,
                        label="range" if row == 0 else None)
                ax.plot(values, np.full(len(values), row), "o", color=MOVING_COLOUR, markersize=6,
                        label="one seed" if row == 0 else None)
                ax.text(values.max(), row, f"  {values.mean():.3f}", va="center", fontsize=10)
            # Room on the right for the mean's label.
            ax.set_xlim(left, high + 0.35 * ((high - left) or 1.0))
            ax.set_xlabel(label)
            ax.grid(axis="x", alpha=0.3)
        axes[0][0].set_yticks(range(len(methods)), ["\n".join(textwrap.wrap(m, 28)) for m in methods])
        axes[0][0].invert_yaxis()
        # Outside the axes: inside, it would cover the last row's dots and value.
        axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        fig.suptitle(title or f"Over {seeds} seeds (bars: mean; line: range; dots: one seed each)")
    return finish(fig)

