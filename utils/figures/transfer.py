"""Fine-tuning a pretrained base: how its moving statistics drift, how recipes compare (04)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.arithmetic import mean_shift
from utils.figures.style import BATCH_COLOUR, INFERENCE_COLOUR, MOVING_COLOUR, STYLE, finish


def plot_drift(history: dict[str, dict], pretrained: dict[str, tuple], layer: str,
               channel: int) -> plt.Figure:
    """How the moving means left their pretrained values while fine-tuning.

    Args:
        history: `BatchNormRecorder.history` of the fine-tuning run.
        pretrained: `moving_statistics` of the base before it.
        layer: the layer whose `channel` is drawn step by step on the left.
        channel: the channel to draw.
    """
    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
        record = history[layer]
        steps = np.arange(1, len(record["batch_mean"]) + 1)
        left.plot(steps, record["batch_mean"][:, channel], ".", markersize=6, color=BATCH_COLOUR,
                  label="batch mean (new digits)")
        left.plot(steps, record["moving_mean"][:, channel], color=MOVING_COLOUR, linewidth=2,
                  label="moving mean")
        left.axhline(pretrained[layer][0][channel], color=MOVING_COLOUR, linestyle="--", linewidth=1,
                     label="moving mean after pretraining")
        left.set_title(f"{layer}, channel {channel}")
        left.set_xlabel("fine-tuning step")
        left.set_ylabel("mean of the channel")
        left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
        for name, record in history.items():
            mean, variance = pretrained[name]
            shift = mean_shift(record["moving_mean"], mean, variance)
            right.plot(steps, shift.mean(axis=1), linewidth=2, label=name)
        right.set_title("Moving means' distance from pretraining")
        right.set_xlabel("fine-tuning step")
        right.set_ylabel("pretrained standard deviations")
        right.set_ylim(0, None)
        right.legend(loc="upper left", title="layer")
    return finish(fig)


def plot_recipes(table: pd.DataFrame) -> plt.Figure:
    """Test accuracy and statistics shift per fine-tuning recipe, each sample a dot.

    Args:
        table: what `compare_recipes()` returned.
    """
    recipes = list(dict.fromkeys(table["recipe"]))
    labels = {"test accuracy": "test accuracy on the new digits\n(inference mode)",
              "shift": "moving means' shift\n(pretrained standard deviations)"}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(12, 0.7 * len(recipes) + 2.2), sharey=True)
        for ax, (column, label) in zip(axes, labels.items()):
            for row, recipe in enumerate(recipes):
                values = table.loc[table["recipe"] == recipe, column]
                ax.barh(row, values.mean(), color=INFERENCE_COLOUR, height=0.6,
                        label="mean" if row == 0 else None)
                ax.plot(values, np.full(len(values), row), "o", color=MOVING_COLOUR, markersize=6,
                        label="one sample" if row == 0 else None)
                ax.text(values.max(), row, f"  mean {values.mean():.3f}", va="center", fontsize=10)
            ax.set_xlabel(label)
            top = table[column].max()
            ax.set_xlim(0, 1.3 * top if top > 0 else 1)
        axes[0].set_xlim(0, 1.25)
        axes[0].set_yticks(range(len(recipes)), recipes)
        axes[0].set_ylabel("recipe")
        axes[0].invert_yaxis()
        axes[1].legend(loc="lower right")
        fig.suptitle("Fine-tuning recipes (bars: mean; dots: one sample each)")
    return finish(fig)

