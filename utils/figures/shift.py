"""BatchNormalization when the data shift: corrupted digits, the damage, the repairs (11)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.figures.style import MOVING_COLOUR, STYLE, TRAINING_COLOUR, finish
from utils.shift import CORRUPTIONS, SEVERITIES, corrupt

# One colour per repair or score, told apart in print and by the colour-blind (Okabe and Ito's palette).
_COLOURS = ("#000000", "#0072b2", "#e69f00", "#cc79a7", "#009e73", "#56b4e9", "#d55e00")


def plot_corruptions(image: np.ndarray, seed: int = 0) -> plt.Figure:
    """One digit under every kind of corruption (rows) at every severity (columns), the clean one first."""
    kinds = list(CORRUPTIONS)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(kinds), len(SEVERITIES) + 1, figsize=(8.4, 1.45 * len(kinds) + 0.6))
        for row, kind in enumerate(kinds):
            for column in range(len(SEVERITIES) + 1):
                shown = image if column == 0 else corrupt(image[None], kind, column, seed)[0]
                ax = axes[row, column]
                ax.imshow(shown[..., 0], cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title("clean" if column == 0 else f"severity {column}")
            axes[row, 0].set_ylabel(kind, rotation=0, ha="right", va="center")
        fig.suptitle("One test digit under every corruption")
    return finish(fig)


def plot_damage(table: pd.DataFrame) -> plt.Figure:
    """Mean accuracy over seeds for every kind and severity, as a heatmap with its numbers in the cells.

    Args:
        table: what `damage()` returned.
    """
    corrupted = table[table["severity"] > 0]
    grid = corrupted.groupby(["kind", "severity"], sort=False)["accuracy"].mean().unstack("severity")
    clean = table.loc[table["severity"] == 0, "accuracy"].mean()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 0.7 * len(grid) + 2.0))
        shown = ax.imshow(grid.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
        for (row, column), value in np.ndenumerate(grid.to_numpy()):
            ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=12,
                    color="black" if value > 0.55 else "white")
        ax.set_xticks(range(grid.shape[1]), [f"severity {s}" for s in grid.columns])
        ax.set_yticks(range(grid.shape[0]), grid.index)
        fig.colorbar(shown, ax=ax, label="test accuracy (mean over seeds)")
        ax.set_title(f"Trained on clean digits (clean test accuracy {clean:.2f}), "
                     f"scored on corrupted ones, {table['seed'].nunique()} seeds")
    return finish(fig)


def plot_repairs(table: pd.DataFrame, title: str) -> plt.Figure:
    """Accuracy of every repair on every kind: one dot per seed, a bar at the mean.

    Args:
        table: what `over_seeds(repairs)` returned (methods as repairs, metrics as kinds).
    """
    methods = list(dict.fromkeys(table["method"]))
    kinds = list(dict.fromkeys(table["metric"]))
    if len(methods) > len(_COLOURS):
        raise ValueError(f"plot_repairs draws at most {len(_COLOURS)} repairs; got {methods}.")
    width = 0.8 / len(methods)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(12.0, 5.8))
        for index, (method, colour) in enumerate(zip(methods, _COLOURS)):
            rows = table[table["method"] == method]
            for column, kind in enumerate(kinds):
                values = rows.loc[rows["metric"] == kind, "value"].to_numpy()
                x = column - 0.4 + width * (index + 0.5)
                ax.plot([x - width / 2.4, x + width / 2.4], [values.mean()] * 2, color=colour, linewidth=3,
                        label=method if column == 0 else None)
                # Side by side, so that seeds with the same score do not hide each other.
                ax.plot(x + np.linspace(-width / 4, width / 4, len(values)), values, "o", color=colour,
                        markersize=4, alpha=0.8)
        ax.set_xticks(range(len(kinds)), kinds)
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, title="bars: mean over seeds; dots: one seed")
    return finish(fig)


def plot_target_sizes(tables: dict[str, pd.DataFrame], without: dict[str, float], title: str) -> plt.Figure:
    """Accuracy after recalibrating on n unlabeled target images, against n (log axis), per corruption:
    every seed and the mean, with the accuracy without repair as a dotted line.

    Args:
        tables: corruption -> what `over_seeds(target_sizes)` returned (methods are numbers of images).
        without: corruption -> the mean accuracy with no repair.
    """
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 5.4))
        for (kind, table), colour in zip(tables.items(), _COLOURS[1:]):
            for _, rows in table.groupby("seed"):
                ax.plot(rows["method"], rows["value"], "o-", color=colour, alpha=0.3, markersize=4)
            means = table.groupby("method")["value"].mean()
            ax.plot(means.index, means.to_numpy(), "o-", color=colour, linewidth=2.5,
                    label=f"{kind}: mean (faint: one seed each)")
            ax.axhline(without[kind], color=colour, linestyle=":", linewidth=2, label=f"{kind}: no repair")
        ax.set_xscale("log")
        ax.set_xticks(means.index, [str(n) for n in means.index])
        ax.set_xlabel("unlabeled target images the statistics are measured on (log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.set_title(title)
        ax.legend(loc="center right", bbox_to_anchor=(1.0, 0.64))
    return finish(fig)


def plot_normalization_batch_sizes(table: pd.DataFrame) -> plt.Figure:
    """Each score against the normalization batch size (log axis): the mean as a line, the seeds' range as a band.

    Args:
        table: what `normalization_batch_sizes()` returned.
    """
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 5.4))
        for (metric, rows), colour in zip(table.groupby("metric", sort=False), (TRAINING_COLOUR, "#6a4c93",
                                                                                 MOVING_COLOUR)):
            summary = rows.groupby("group size")["accuracy"].agg(["mean", "min", "max"])
            ax.fill_between(summary.index, summary["min"], summary["max"], color=colour, alpha=0.25)
            ax.plot(summary.index, summary["mean"], "o-", color=colour, linewidth=2.5, label=metric)
        sizes = sorted(table["group size"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("normalization batch size: examples whose statistics BatchNormalization uses (log scale)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.set_title(f"Trained with each normalization batch size, {table['seed'].nunique()} seeds "
                     "(lines: mean; bands: range)")
        ax.legend(loc="lower right")
    return finish(fig)


def plot_samples(images: np.ndarray, title: str) -> plt.Figure:
    """A row of digits under one title."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(images), figsize=(1.25 * len(images) + 0.4, 1.9), squeeze=False)
        for ax, image in zip(axes[0], images):
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(title)
    return finish(fig)
