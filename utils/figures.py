"""Pictures of measured results, for the notebooks and for `figures/`."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Cell colours by the training value a probe received.
_COLOURS = {True: "#f4a259", False: "#8ecae6", None: "#e5e5e5"}


def _cell_text(row: dict) -> str:
    bn = "BN: batch stats" if row["bn_used_batch_stats"] else "BN: moving stats"
    updated = "moving stats updated" if row["bn_updated"] else "moving stats kept"
    dropout = "dropout ON" if row["dropout_active"] else "dropout off"
    return f"training={row['probe_training']}\n{bn}\n{updated}\n{dropout}"


def plot_behaviour_matrix(rows: list[dict], title: str | None = None) -> plt.Figure:
    """Draw the behaviour matrix: one cell per (scenario, call), coloured by `training`.

    Args:
        rows: what `behaviour_matrix()` returned.
        title: the figure's title; by default names the Keras version measured.

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    scenarios = list(dict.fromkeys(row["scenario"] for row in rows))
    calls = list(dict.fromkeys(row["call"] for row in rows))
    cells = {(row["scenario"], row["call"]): row for row in rows}
    fig, ax = plt.subplots(figsize=(1.8 * len(calls) + 3, 0.9 * len(scenarios) + 1.2), dpi=80)
    for i, scenario in enumerate(scenarios):
        for j, call in enumerate(calls):
            row = cells.get((scenario, call))
            if row is None:
                continue
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=_COLOURS[row["probe_training"]],
                                       edgecolor="white", linewidth=2))
            ax.text(j + 0.5, i + 0.5, _cell_text(row), ha="center", va="center", fontsize=7.5,
                    fontweight="bold" if row["bn_updated"] else "normal")
    ax.set_xlim(0, len(calls))
    ax.set_ylim(len(scenarios), 0)
    ax.set_xticks([j + 0.5 for j in range(len(calls))], calls)
    ax.set_yticks([i + 0.5 for i in range(len(scenarios))], scenarios)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    legend = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in _COLOURS.values()]
    ax.legend(legend, [f"training={value}" for value in _COLOURS], loc="upper center",
              bbox_to_anchor=(0.5, 0), ncol=3, frameon=False,
              title="bold text: BatchNormalization's moving statistics changed")
    version = rows[0]["keras_version"] if rows else "?"
    ax.set_title(title or f"What each call passes as `training`, measured on Keras {version}",
                 pad=28)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_warmup(curves: dict[str, pd.DataFrame]) -> plt.Figure:
    """Accuracy in inference and in training mode as training starts, one panel per curve.

    Args:
        curves: panel title -> what `warmup_curve()` returned.

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), dpi=80,
                             sharey=True, squeeze=False)
    for ax, (title, frame) in zip(axes[0], curves.items()):
        ax.plot(frame["step"], frame["training_accuracy"], "o-", color="#e07a1f",
                label="training mode (batch statistics)")
        ax.plot(frame["step"], frame["inference_accuracy"], "o-", color="#1d4e89",
                label="inference mode (moving statistics)")
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].legend(loc="lower right")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_batch_statistics(records: dict[str, dict], channel: int,
                          statistic: str = "mean") -> plt.Figure:
    """Batch and moving statistic of one channel, side by side for several runs.

    Args:
        records: panel title -> one layer's record, as in `BatchNormRecorder.history`.
        channel: the channel to show.
        statistic: "mean" or "variance".

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    fig, axes = plt.subplots(1, len(records), figsize=(4.2 * len(records), 3.2), dpi=80,
                             sharey=True, squeeze=False)
    for ax, (title, record) in zip(axes[0], records.items()):
        steps = np.arange(1, len(record[f"batch_{statistic}"]) + 1)
        ax.plot(steps, record[f"batch_{statistic}"][:, channel], ".", markersize=3,
                color="#e07a1f", label=f"batch {statistic}")
        ax.plot(steps, record[f"moving_{statistic}"][:, channel], color="#1d4e89",
                linewidth=2, label=f"moving {statistic}")
        ax.set_title(title)
        ax.set_xlabel("training step")
    axes[0][0].set_ylabel(f"channel {channel}: {statistic}")
    axes[0][0].legend(loc="upper right")
    fig.tight_layout()
    plt.close(fig)
    return fig
