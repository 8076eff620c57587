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


def plot_drift(history: dict[str, dict], pretrained: dict[str, tuple], layer: str,
               channel: int) -> plt.Figure:
    """How the moving means left their pretrained values while fine-tuning.

    Args:
        history: `BatchNormRecorder.history` of the fine-tuning run.
        pretrained: `moving_statistics` of the base before it.
        layer: the layer whose `channel` is drawn step by step on the left.
        channel: the channel to draw.

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=80)
    record = history[layer]
    steps = np.arange(1, len(record["batch_mean"]) + 1)
    left.plot(steps, record["batch_mean"][:, channel], ".", markersize=4, color="#e07a1f",
              label="batch mean (new digits)")
    left.plot(steps, record["moving_mean"][:, channel], color="#1d4e89", linewidth=2,
              label="moving mean")
    left.axhline(pretrained[layer][0][channel], color="#1d4e89", linestyle="--", linewidth=1,
                 label="moving mean after pretraining")
    left.set_title(f"{layer}, channel {channel}")
    left.set_xlabel("fine-tuning step")
    left.legend(loc="best", fontsize=8)
    for name, record in history.items():
        mean, variance = pretrained[name]
        shift = np.abs(record["moving_mean"] - mean) / np.sqrt(variance + 1e-3)
        right.plot(steps, shift.mean(axis=1), linewidth=2, label=name)
    right.set_title("moving means' distance from pretraining")
    right.set_xlabel("fine-tuning step")
    right.set_ylabel("pretrained standard deviations")
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_recipes(table: pd.DataFrame) -> plt.Figure:
    """Test accuracy and statistics shift per fine-tuning recipe, each sample a dot.

    Args:
        table: what `compare_recipes()` returned.

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    recipes = list(dict.fromkeys(table["recipe"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(recipes) + 1.5), dpi=80, sharey=True)
    labels = {"test accuracy": "test accuracy on the new digits, inference mode",
              "shift": "moving means' shift (pretrained standard deviations)"}
    for ax, (column, label) in zip(axes, labels.items()):
        for row, recipe in enumerate(recipes):
            values = table.loc[table["recipe"] == recipe, column]
            ax.barh(row, values.mean(), color="#8ecae6", height=0.6)
            ax.plot(values, np.full(len(values), row), "o", color="#1d4e89", markersize=4)
            ax.text(values.max(), row, f"  mean {values.mean():.3f}", va="center", fontsize=8)
        ax.set_xlabel(label)
        ax.set_xlim(right=1.25 * table[column].max() if table[column].max() > 0 else 1)
    low = table["test accuracy"].min()
    axes[0].set_xlim(max(0.0, low - 0.1), 1.0)
    axes[0].set_yticks(range(len(recipes)), recipes)
    axes[0].invert_yaxis()
    fig.suptitle("Fine-tuning recipes (bars: mean; dots: one sample each)")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_mc_uncertainty(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                        count: int = 8) -> plt.Figure:
    """The `count` most certain and most uncertain digits under Monte Carlo dropout.

    Args:
        images: the digits, shape (n, 28, 28, 1).
        labels: their true classes.
        probabilities: `mc_predict` output for them, shape (samples, n, classes).
        count: digits per row.

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    from utils.dropout import predictive_entropy

    entropy = predictive_entropy(probabilities)
    mean = probabilities.mean(axis=0)
    order = np.argsort(entropy)
    rows = {"most certain": order[:count], "most uncertain": order[::-1][:count]}
    fig, axes = plt.subplots(2, count, figsize=(1.3 * count, 3.6), dpi=80)
    for ax_row, (title, chosen) in zip(axes, rows.items()):
        for ax, i in zip(ax_row, chosen):
            predicted = int(mean[i].argmax())
            ax.imshow(images[i].squeeze(), cmap="gray_r")
            ax.set_title(f"{predicted} ({mean[i, predicted]:.0%})\ntrue {labels[i]}", fontsize=8,
                         color="black" if predicted == labels[i] else "#c0392b")
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(title, fontsize=9)
    fig.suptitle("Monte Carlo dropout: predicted class (mean probability), true class", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_curves(curves: dict[str, pd.DataFrame], title: str) -> plt.Figure:
    """Test accuracy against training step, one line per run (as from `train_and_track`).

    Returns:
        The figure, already closed so a notebook shows it once.
    """
    fig, ax = plt.subplots(figsize=(7, 3.4), dpi=80)
    for name, curve in curves.items():
        ax.plot(curve["step"], curve["test accuracy"], marker=".", linewidth=2, label=name)
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy, inference mode")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    plt.close(fig)
    return fig
