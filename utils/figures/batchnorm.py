"""BatchNormalization's statistics: batch against moving, their lag, momentum and recalibration (02, 08, 10)."""

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.figures.style import BATCH_COLOUR, MOVING_COLOUR, STYLE, WRONG_COLOUR, finish
from utils.models import NORMALIZATIONS


def plot_warmup(curves: dict[str, pd.DataFrame]) -> plt.Figure:
    """Accuracy in inference and in training mode as training starts, one panel per curve.

    Args:
        curves: panel title -> what `warmup_curve()` returned.
    """
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(curves), figsize=(max(5.2 * len(curves), 8.0), 3.8),
                                 sharey=True, squeeze=False)
        for ax, (title, frame) in zip(axes[0], curves.items()):
            ax.plot(frame["step"], frame["training_accuracy"], "o-", color=BATCH_COLOUR,
                    label="training mode (batch statistics)")
            ax.plot(frame["step"], frame["inference_accuracy"], "o-", color=MOVING_COLOUR,
                    label="inference mode (moving statistics)")
            ax.set_title(title)
            ax.set_xlabel("training step")
            ax.set_ylabel("test accuracy")
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
        axes[0][0].legend(loc="lower right")
    return finish(fig)


def plot_lag(gap: np.ndarray, momentum: float) -> plt.Figure:
    """The measured gap between batch and moving variance, against `momentum ** step`.

    Args:
        gap: the mean |batch - moving| variance over channels, per step (`LivePlot.gap`).
        momentum: the layer's momentum.
    """
    steps = np.arange(1, len(gap) + 1)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 3.8))
        ax.plot(steps, gap, color=MOVING_COLOUR, linewidth=2.5, label="measured: mean |batch - moving| variance")
        ax.plot(steps, momentum ** steps, color=BATCH_COLOUR, linestyle="--", linewidth=2,
                label=f"predicted: momentum ** step ({momentum})")
        ax.set_xlabel("training step")
        ax.set_ylabel("variance gap, mean over channels")
        ax.set_ylim(0, None)
        ax.set_title("The moving variance forgets its starting 1 as momentum ** step")
        ax.legend(loc="upper right")
    return finish(fig)


def plot_batch_statistics(records: dict[str, dict], channel: int,
                          statistic: str = "mean") -> plt.Figure:
    """Batch and moving statistic of one channel, side by side for several runs.

    Args:
        records: panel title -> one layer's record, as in `BatchNormRecorder.history`.
        channel: the channel to show.
        statistic: "mean" or "variance".
    """
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(records), figsize=(max(4.6 * len(records), 8.0), 3.5),
                                 sharey=True, squeeze=False)
        for ax, (title, record) in zip(axes[0], records.items()):
            steps = np.arange(1, len(record[f"batch_{statistic}"]) + 1)
            ax.plot(steps, record[f"batch_{statistic}"][:, channel], ".", markersize=5,
                    color=BATCH_COLOUR, label=f"batch {statistic}")
            ax.plot(steps, record[f"moving_{statistic}"][:, channel], color=MOVING_COLOUR,
                    linewidth=2, label=f"moving {statistic}")
            ax.set_title(title)
            ax.set_xlabel("training step")
            ax.set_ylabel(f"channel {channel}: {statistic}")
        axes[0][0].legend(loc="upper right")
    return finish(fig)


def plot_small_batches(table: pd.DataFrame) -> plt.Figure:
    """Test accuracy in both modes per normalization layer and batch size.

    Args:
        table: what `small_batch_comparison()` returned.
    """
    normalizations = list(dict.fromkeys(table.index.get_level_values("normalization")))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(normalizations), figsize=(4.4 * len(normalizations), 3.6),
                                 sharey=True, squeeze=False)
        for ax, normalization in zip(axes[0], normalizations):
            rows = table.xs(normalization, level="normalization")
            where = np.arange(len(rows))
            ax.bar(where - 0.2, rows["inference_accuracy"], 0.4, color=MOVING_COLOUR, label="inference mode")
            ax.bar(where + 0.2, rows["training_accuracy"], 0.4, color=BATCH_COLOUR, label="training mode")
            ax.set_xticks(where, [str(size) for size in rows.index])
            ax.set_xlabel("batch size")
            ax.set_ylabel("test accuracy")
            ax.set_ylim(0, 1)
            ax.set_title(NORMALIZATIONS[normalization])
        axes[0][0].legend(loc="upper left")
    return finish(fig)


def plot_momentum(curves: dict[float, np.ndarray], table: pd.DataFrame, steps_per_epoch: int,
                  tolerance: float = 0.1) -> plt.Figure:
    """The moving variance's relative error step by step, one line per momentum.

    Args:
        curves, table: what `momentum_sweep()` returned.
        steps_per_epoch: where to mark the end of the first epoch.
    """
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10.0, 4.2))
        colours = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(curves)))
        for (momentum, error), colour in zip(curves.items(), colours):
            window = table.loc[momentum, "window"]
            ax.plot(np.arange(1, len(error) + 1), error, color=colour, linewidth=2,
                    label=f"{momentum:g} ({window:.0f} steps)")
        ax.axhline(tolerance, color="grey", linestyle="--", linewidth=1)
        ax.text(1.2, tolerance * 1.1, f"within {tolerance:.0%}", color="grey", fontsize=10)
        ax.axvline(steps_per_epoch, color="grey", linewidth=1)
        ax.text(steps_per_epoch * 1.05, 0.97, "one epoch", transform=ax.get_xaxis_transform(),
                va="top", color="grey", fontsize=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("moving variance: relative error")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="momentum (window)")
        ax.grid(alpha=0.3)
    return finish(fig)


def plot_lag_windows(table: pd.DataFrame, expected: pd.DataFrame | None = None,
                     marked: tuple[float, str] | None = None, tolerance: float = 0.1) -> plt.Figure:
    """The moving variance's lag in windows against how far it starts from the true variance, per momentum.

    Args:
        table: what `lag_in_windows()` returned.
        expected: optional, the noise-free lag: columns `ratio` and `lag in windows`, drawn dashed.
        marked: optional, a ratio to mark with its label (e.g. a real layer's).
        tolerance: the tolerance `lag_in_windows` was given.
    """
    momenta = sorted(table["momentum"].unique())
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(momenta)))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(10.0, 4.8))
        for momentum, colour in zip(momenta, colours):
            runs = table[table["momentum"] == momentum].groupby("ratio")["lag in windows"]
            mean = runs.mean()
            ax.errorbar(mean.index, mean, yerr=[mean - runs.min(), runs.max() - mean], fmt="o-", color=colour,
                        capsize=3, linewidth=2, label=f"{momentum:g} ({1 / (1 - momentum):.0f} steps)")
        if expected is not None:
            ax.plot(expected["ratio"], expected["lag in windows"], "--", color="grey", linewidth=1.5,
                    label="every batch at its\nexpected variance")
        if marked is not None:
            ax.axvline(marked[0], color=WRONG_COLOUR, linewidth=1)
            ax.text(marked[0], 0.04, f" {marked[1]}", transform=ax.get_xaxis_transform(), color=WRONG_COLOUR,
                    ha="right", va="bottom", fontsize=10, rotation=90)
        ax.axvline(1, color="grey", linewidth=1)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("starting moving variance / true variance (Keras starts at 1)")
        ax.set_ylabel(f"lag: windows until within {tolerance:.0%}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="momentum (window)")
        ax.grid(alpha=0.3)
    return finish(fig)


def plot_recalibration(table: pd.DataFrame) -> plt.Figure:
    """Test scores as training goes on, as trained and recalibrated: the mean over seeds and their range.

    Args:
        table: what `recalibration_over_seeds()` returned.
    """
    colours = {"as trained": BATCH_COLOUR, "recalibrated": MOVING_COLOUR}
    labels = {"accuracy": "test accuracy (inference mode)", "cross-entropy": "test cross-entropy",
              "calibration error": "calibration error"}
    seeds = table["seed"].nunique()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(labels), figsize=(13.5, 4.2))
        for ax, (score, label) in zip(axes, labels.items()):
            rows = table[table["score"] == score]
            for variant, colour in colours.items():
                runs = rows[rows["method"] == variant].groupby("step")["value"]
                steps = runs.mean().index
                ax.fill_between(steps, runs.min(), runs.max(), color=colour, alpha=0.25, linewidth=0)
                ax.plot(steps, runs.mean(), "o-", color=colour, linewidth=2, label=f"moving statistics {variant}")
            ax.set_xscale("log")
            ax.set_xticks(steps, [str(step) for step in steps])
            ax.minorticks_off()
            ax.set_xlabel("training steps")
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        axes[0].set_ylim(0, 1)
        axes[0].legend(loc="lower right")
        fig.suptitle(f"Over {seeds} seeds (line: mean; band: range)")
    return finish(fig)


def plot_pixel_statistics(images: dict[str, np.ndarray], label: str = "mean pixel value") -> plt.Figure:
    """Per-pixel statistics of 28 x 28 digits, side by side on one colour scale.

    Args:
        images: a title for each panel -> 784 values (a mean or a variance per pixel).
        label: what the colour shows.
    """
    with plt.rc_context(STYLE):
        # Square panels: with few of them each is larger, so the figure stays wide enough.
        side = max(2.6, 9.0 / len(images))
        fig, axes = plt.subplots(1, len(images), figsize=(side * len(images) + 1.2, side + 1.0))
        axes = np.atleast_1d(axes)
        high = max(float(np.max(values)) for values in images.values())
        for ax, (title, values) in zip(axes, images.items()):
            shown = ax.imshow(np.reshape(values, (28, 28)), cmap="magma", vmin=0, vmax=high)
            ax.set_title(textwrap.fill(title, 18))
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(shown, ax=list(axes), label=label, shrink=0.85)
    plt.close(fig)
    return fig

