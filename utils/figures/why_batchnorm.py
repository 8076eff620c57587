"""What BatchNormalization buys and what it costs: learning rates, and one image among batch-mates (02)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.figures.style import MOVING_COLOUR, STYLE, TRAINING_COLOUR, WRONG_COLOUR, finish

_COLOURS = (MOVING_COLOUR, TRAINING_COLOUR)


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
        for offset, (model, colour) in zip((-0.04, 0.04), zip(models, _COLOURS)):
            rows = table[table["model"] == model]
            means = rows.groupby("learning rate")[metric].mean()
            ax.plot(means.index, means.to_numpy(), "-", color=colour, linewidth=2, label=f"{model}, mean")
            # Side by side, so the two models' points at one rate do not hide each other.
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
    """One image's predicted probabilities in several batches, in training and in inference mode.

    Args:
        image: the image, height x width x 1.
        outputs: mode -> (batch-mates' description -> the ten probabilities for the image).
    """
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 1 + len(outputs), figsize=(11.0, 3.8),
                                 gridspec_kw={"width_ratios": [0.6] + [1.0] * len(outputs)})
        axes[0].imshow(image[..., 0], cmap="gray_r")
        axes[0].set_title("the image")
        axes[0].axis("off")
        for ax, (mode, batches) in zip(axes[1:], outputs.items()):
            width = 0.8 / len(batches)
            for index, (name, probabilities) in enumerate(batches.items()):
                ax.bar(np.arange(10) + (index - (len(batches) - 1) / 2) * width, probabilities, width,
                       label=name)
            ax.set_title(mode)
            ax.set_xticks(range(10))
            ax.set_xlabel("digit")
            ax.set_ylim(0, 1)
        axes[1].set_ylabel("predicted probability")
        axes[-1].legend(title="batch-mates", loc="upper left", bbox_to_anchor=(1.01, 1))
    return finish(fig)
