"""Training runs and what they cost: loss curves, recorder overhead (06, 11)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.figures.style import BATCH_COLOUR, MOVING_COLOUR, STYLE, WRONG_COLOUR, finish


def plot_curves(curves: dict[str, pd.DataFrame | list[pd.DataFrame]], title: str) -> plt.Figure:
    """Test accuracy against training step, one line per method (as from `train_and_track`).

    Args:
        curves: per method, one run's curve, or a list of runs (one per seed): then the
            line is their mean and a band their range at each step.
        title: the figure's title.
    """
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.8))
        several = False
        for name, runs in curves.items():
            runs = [runs] if isinstance(runs, pd.DataFrame) else list(runs)
            steps = pd.concat(runs).groupby("step")["test accuracy"]
            line, = ax.plot(steps.mean().index, steps.mean(), marker=".", linewidth=2,
                            label=name if len(runs) == 1 else f"{name} ({len(runs)} seeds)")
            if len(runs) > 1:
                several = True
                ax.fill_between(steps.mean().index, steps.min(), steps.max(), color=line.get_color(),
                                alpha=0.2, linewidth=0)
        ax.set_xlabel("training step")
        ax.set_ylabel("test accuracy, inference mode")
        ax.set_title(f"{title}\n(line: mean over seeds; band: their range)" if several else title)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    return finish(fig)


def plot_overhead(results: dict[str, dict]) -> plt.Figure:
    """The recorder's cost on each backend: `fit` time recorded over plain, every pair and the median.

    Args:
        results: backend -> a stored `recorder_overhead` result with its `target`.
    """
    names = {"tensorflow": "TensorFlow", "jax": "JAX"}
    low, high = 0.8, 1.3
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(results), figsize=(max(6.4 * len(results), 8.0), 4.4),
                                 sharex=True, sharey=True, squeeze=False)
        for ax, (backend, result) in zip(axes[0], results.items()):
            variants = list(result["ratios"])
            for row, variant in enumerate(variants):
                ratios = np.array(result["ratios"][variant])
                inside = ratios[(ratios >= low) & (ratios <= high)]
                ax.plot(inside, np.full(len(inside), row), "o", color=MOVING_COLOUR, alpha=0.35,
                        label="one pair of runs" if row == 0 else None)
                beyond = len(ratios) - len(inside)
                if beyond:
                    ax.text(high - 0.005, row - 0.3, f"+{beyond} off the scale", ha="right", fontsize=10)
                ax.plot(np.median(ratios), row, "D", color=BATCH_COLOUR, markersize=10,
                        label="median" if row == 0 else None)
            ax.axvline(1.0, color="grey", linewidth=1)
            ax.axvline(result["target"], color=WRONG_COLOUR, linestyle="--",
                       label=f"target: at most {result['target']:.2f}")
            ax.set_yticks(range(len(variants)), [v.replace(" + ", " +\n") for v in variants])
            # Room above the top row for the legend.
            ax.set_ylim(-0.6, len(variants) + 0.15)
            ax.set_xlim(low, high)
            ax.set_xlabel("fit time recorded / plain fit time")
            ax.set_title(f"{names.get(backend, backend)}: plain fit {result['plain_seconds']:.1f} s "
                         f"({result['steps']} steps)")
            ax.grid(axis="x", alpha=0.3)
            ax.legend(loc="upper center", ncol=3, fontsize=10, handletextpad=0.3, columnspacing=0.8)
    return finish(fig)

