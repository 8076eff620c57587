"""What BatchNormalization buys and what it costs: learning rates, one image among batch-mates, and
the loss along the gradient (02)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.figures.style import MOVING_COLOUR, STYLE, TRAINING_COLOUR, WRONG_COLOUR, finish

_COLOURS = (MOVING_COLOUR, TRAINING_COLOUR, "#6a4c93")
# Not the training-mode orange: here a colour is a set of batch-mates, not a mode.
_BATCH_MATE_COLOURS = ("#6c757d", "#2a9d8f")


def plot_learning_rates(table: pd.DataFrame, metric: str = "test accuracy") -> plt.Figure:
    """Test accuracy against learning rate (log axis), one colour per model, every seed a point.

    Args:
        table: what `learning_rate_sweep()` returned; a diverged run is drawn as a cross,
            at the score of predicting the digit 0 for every image.
        metric: the column to draw.
    """
    models = list(dict.fromkeys(table["model"]))
    rates = sorted(table["learning rate"].unique())
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.6, 6.2))
        if len(models) > len(_COLOURS):
            raise ValueError(f"plot_learning_rates draws at most {len(_COLOURS)} models; got {models}.")
        for offset, model, colour in zip(np.linspace(-0.04, 0.04, len(models)), models, _COLOURS):
            rows = table[table["model"] == model]
            means = rows.groupby("learning rate")[metric].mean()
            ax.plot(means.index, means.to_numpy(), "-", color=colour, linewidth=2, label=f"{model}, mean")
            # Side by side, so the models' points at one rate do not hide each other.
            shift = 10 ** offset
            fine, diverged = rows[~rows["diverged"]], rows[rows["diverged"]]
            ax.plot(fine["learning rate"] * shift, fine[metric], "o", color=colour, markersize=7,
                    alpha=0.8, label=f"{model}, one seed")
            if len(diverged):
                ax.plot(diverged["learning rate"] * shift, diverged[metric], "x", color=colour, markersize=10,
                        markeredgewidth=2.5, label=f"{model}, diverged (not a number)")
        ax.axhline(table.attrs.get("one digit for every image", 0.1), color=WRONG_COLOUR, linestyle=":",
                   linewidth=1.5, label="one digit for every image")
        ax.set_xscale("log")
        ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
        ax.set_xlabel("learning rate of plain SGD (log scale)")
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        steps, seeds = table.attrs.get("steps"), table["seed"].nunique()
        ax.set_title(f"The seed model after {steps} steps of plain SGD, {seeds} seeds" if steps
                     else f"The seed model by plain SGD, {seeds} seeds")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return finish(fig)


def plot_batch_mates(image: np.ndarray, outputs: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """One image's predicted probabilities in two batches, in training and in inference mode.

    Args:
        image: the image, height x width x 1.
        outputs: mode -> (batch-mates' description -> the ten probabilities for the image),
            two sets of batch-mates per mode.
    """
    if any(len(batches) != len(_BATCH_MATE_COLOURS) for batches in outputs.values()):
        raise ValueError(f"plot_batch_mates compares {len(_BATCH_MATE_COLOURS)} sets of batch-mates per mode; got "
                         f"{[len(batches) for batches in outputs.values()]}.")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 1 + len(outputs), figsize=(11.0, 3.8),
                                 gridspec_kw={"width_ratios": [0.6] + [1.0] * len(outputs)})
        axes[0].imshow(image[..., 0], cmap="gray_r")
        axes[0].set_title("the image")
        axes[0].axis("off")
        for ax, (mode, batches) in zip(axes[1:], outputs.items()):
            width = 0.8 / len(batches)
            for index, ((name, probabilities), colour) in enumerate(zip(batches.items(), _BATCH_MATE_COLOURS,
                                                                         strict=True)):
                ax.bar(np.arange(10) + (index - (len(batches) - 1) / 2) * width, probabilities, width,
                       color=colour, label=name)
            ax.set_title(mode)
            ax.set_xticks(range(10))
            ax.set_xlabel("digit")
            ax.set_ylim(0, 1)
        axes[1].set_ylabel("predicted probability")
        axes[-1].legend(title="batch-mates", loc="upper left", bbox_to_anchor=(1.01, 1))
    return finish(fig)


_SMOOTHNESS = {
    "loss range": "loss range along the gradient",
    "gradient change": "largest change of the gradient",
    "effective beta": "effective beta (gradient change\nper unit moved)",
}


def plot_smoothness(table: pd.DataFrame) -> plt.Figure:
    """The three smoothness measures against training step, one colour per model, every seed a point.

    Args:
        table: what `smoothness_runs()` returned.
    """
    models = list(dict.fromkeys(table["model"]))
    if len(models) > len(_COLOURS):
        raise ValueError(f"plot_smoothness draws at most {len(_COLOURS)} models; got {models}.")
    steps = sorted(table["step"].unique())
    spacing = (steps[1] - steps[0]) if len(steps) > 1 else 1
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(_SMOOTHNESS), figsize=(13.0, 4.6))
        for ax, (column, label) in zip(axes, _SMOOTHNESS.items()):
            for offset, model, colour in zip(np.linspace(-0.06, 0.06, len(models)), models, _COLOURS):
                rows = table[table["model"] == model]
                means = rows.groupby("step")[column].mean()
                ax.plot(means.index, means.to_numpy(), "-", color=colour, linewidth=2, label=f"{model}, mean")
                ax.plot(rows["step"] + offset * spacing, rows[column], "o", color=colour, markersize=7,
                        alpha=0.8, label=f"{model}, one seed")
            if column != "effective beta":
                # Without BatchNormalization these grow by one or two orders of magnitude.
                ax.set_yscale("log")
            ax.set_xticks(steps)
            ax.set_xlabel("SGD steps trained")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        sizes = ", ".join(f"{size:g}" for size in table.attrs.get("step sizes", []))
        fig.suptitle(f"Looking along the gradient, steps of {sizes} times it ({table['seed'].nunique()} seeds)"
                     if sizes else "Looking along the gradient")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, bbox_to_anchor=(0.5, -0.02))
        fig.tight_layout(rect=(0, 0.16, 1, 1))
        plt.close(fig)
    return fig
