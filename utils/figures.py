"""Pictures of measured results, for the notebooks and for `figures/`.

Every figure is drawn for a projector at the back of a classroom as much as for a
screen: `DPI` dots per inch, no text under 10 points. Each function returns its
figure already closed, so that a notebook shows it once.
"""

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.arithmetic import mean_shift
from utils.models import NORMALIZATIONS
from utils.probes import CALL_LABELS

DPI = 110
STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
}
TRAINING_COLOUR, INFERENCE_COLOUR, NONE_COLOUR = "#f4a259", "#8ecae6", "#e5e5e5"
BATCH_COLOUR, MOVING_COLOUR = "#e07a1f", "#1d4e89"
WRONG_COLOUR = "#c0392b"

# Cell colours by the training value a probe received.
_COLOURS = {True: TRAINING_COLOUR, False: INFERENCE_COLOUR, None: NONE_COLOUR}
_SCENARIO_LABELS = {
    "sequential": "Sequential",
    "functional": "Functional",
    "subclassed": "subclassed",
    "functional_built_training_false": "Functional,\ntraining=False written in",
    "functional_built_training_true": "Functional,\ntraining=True written in",
    "nested_base_training_false": "base(x, training=False)",
    "nested_base_frozen": "frozen base(x, training=False)",
    "custom_layer_without_training_arg": "custom layer whose call\ntakes no training",
}


def _finish(fig: plt.Figure) -> plt.Figure:
    """Lay out `fig`, with tick labels at legible size, and close it so a notebook shows it once."""
    for ax in fig.axes:
        ax.tick_params(labelsize=STYLE["xtick.labelsize"])
    fig.tight_layout()
    plt.close(fig)
    return fig


def _cell_text(row: dict) -> str:
    bn = "BN: batch stats" if row["bn_used_batch_stats"] else "BN: moving stats"
    updated = ", updated" if row["bn_updated"] else ""
    dropout = "Dropout on" if row["dropout_active"] else "Dropout off"
    return f"training={row['probe_training']}\n{bn}{updated}\n{dropout}"


def plot_behaviour_matrix(rows: list[dict], title: str | None = None) -> plt.Figure:
    """Draw the behaviour matrix: one cell per (scenario, call), coloured by `training`.

    Args:
        rows: what `behaviour_matrix()` returned.
        title: the figure's title; by default names the Keras version measured.
    """
    scenarios = list(dict.fromkeys(row["scenario"] for row in rows))
    calls = list(dict.fromkeys(row["call"] for row in rows))
    cells = {(row["scenario"], row["call"]): row for row in rows}
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(2.1 * len(calls) + 2.8, 8.0), 0.78 * len(scenarios) + 1.9))
        for i, scenario in enumerate(scenarios):
            for j, call in enumerate(calls):
                row = cells.get((scenario, call))
                if row is None:
                    continue
                ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=_COLOURS[row["probe_training"]],
                                           edgecolor="white", linewidth=2))
                ax.text(j + 0.5, i + 0.5, _cell_text(row), ha="center", va="center", fontsize=10,
                        fontweight="bold" if row["bn_updated"] else "normal")
        ax.set_xlim(0, len(calls))
        ax.set_ylim(len(scenarios), 0)
        ax.set_xticks([j + 0.5 for j in range(len(calls))], [CALL_LABELS[c].replace(", ", ",\n") for c in calls])
        ax.set_yticks([i + 0.5 for i in range(len(scenarios))],
                      [_SCENARIO_LABELS.get(s, s) for s in scenarios])
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        legend = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in _COLOURS.values()]
        ax.legend(legend, [f"received training={value}" for value in _COLOURS], loc="upper center",
                  bbox_to_anchor=(0.5, 0), ncol=3, frameon=False,
                  title="bold text: BatchNormalization's moving statistics changed")
        version = rows[0]["keras_version"] if rows else "?"
        ax.set_title(title or f"What each call passes as training, measured on Keras {version}", pad=12)
    return _finish(fig)


def plot_effects(table: pd.DataFrame) -> plt.Figure:
    """What one training step changed, as a grid: one row per (frozen, training), one column per effect.

    Args:
        table: what `utils.freezing.effects_table()` returned.
    """
    colours = {True: TRAINING_COLOUR, "training mode": TRAINING_COLOUR,
               False: INFERENCE_COLOUR, "inference mode": INFERENCE_COLOUR}
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(2.0 * len(table.columns) + 3.4, 0.42 * len(table) + 1.6))
        for i, row in enumerate(table.itertuples(index=False)):
            for j, value in enumerate(row):
                ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=colours[value], edgecolor="white",
                                           linewidth=2))
                text = {True: "yes", False: "no"}.get(value, value)
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=10)
        ax.set_xlim(0, len(table.columns))
        ax.set_ylim(len(table), 0)
        ax.set_xticks([j + 0.5 for j in range(len(table.columns))],
                      [textwrap.fill(column, 16) for column in table.columns])
        ax.set_yticks([i + 0.5 for i in range(len(table))],
                      [f"{frozen}, training={training}" for frozen, training in table.index])
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        legend = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in (TRAINING_COLOUR, INFERENCE_COLOUR)]
        ax.legend(legend, ["changed / training mode", "unchanged / inference mode"], loc="upper center",
                  bbox_to_anchor=(0.5, 0), ncol=2, frameon=False)
        ax.set_title("One training step: what changed, by frozen layers and training", pad=12)
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


def plot_mc_uncertainty(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                        count: int = 8) -> plt.Figure:
    """The `count` most certain and most uncertain digits under Monte Carlo dropout.

    Args:
        images: the digits, shape (n, 28, 28, 1).
        labels: their true classes.
        probabilities: `mc_predict` output for them, shape (samples, n, classes).
        count: digits per row.
    """
    from utils.dropout import predictive_entropy

    entropy = predictive_entropy(probabilities)
    mean = probabilities.mean(axis=0)
    order = np.argsort(entropy)
    rows = {"most\ncertain": order[:count], "most\nuncertain": order[::-1][:count]}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, count, figsize=(1.45 * count + 0.6, 4.4))
        for ax_row, (title, chosen) in zip(axes, rows.items()):
            for ax, i in zip(ax_row, chosen):
                predicted = int(mean[i].argmax())
                ax.imshow(images[i].squeeze(), cmap="gray_r")
                ax.set_title(f"{predicted} ({mean[i, predicted]:.0%})\ntrue {labels[i]}", fontsize=10,
                             color="black" if predicted == labels[i] else WRONG_COLOUR)
                ax.set_xticks([])
                ax.set_yticks([])
            ax_row[0].set_ylabel(title)
        fig.suptitle("Monte Carlo dropout: predicted class (mean probability) and true class")
        legend = [plt.Line2D([], [], color=colour, linewidth=4) for colour in ("black", WRONG_COLOUR)]
        fig.legend(legend, ["right", "wrong"], loc="lower center", ncol=2, frameon=False)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        plt.close(fig)
    return fig


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
    return _finish(fig)


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
    return _finish(fig)


def plot_reliability(tables: dict[str, pd.DataFrame]) -> plt.Figure:
    """Reliability diagrams: accuracy against confidence per bin, one line per model.

    Args:
        tables: label -> what `reliability()` returned for that model.
    """
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 5.8))
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
        for (label, table), colour in zip(tables.items(), (BATCH_COLOUR, MOVING_COLOUR, WRONG_COLOUR)):
            ax.plot(table["confidence"], table["accuracy"], "o-", color=colour, label=label)
        ax.set_xlabel("confidence (probability of the class picked)")
        ax.set_ylabel("accuracy in that bin")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.03, 1))
        ax.text(1.05, 0.02, "above the line:\nright more often than sure\n\nbelow the line:\nsurer than right",
                transform=ax.transAxes, ha="left", va="bottom", fontsize=10, color="dimgrey")
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


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
    return _finish(fig)


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


def plot_replica_training(table: pd.DataFrame) -> plt.Figure:
    """Test accuracy in both modes for each way of training, as `replica_training` returns them."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.8))
        rows = np.arange(len(table))
        for offset, (column, colour, mode) in enumerate([
                ("test accuracy", INFERENCE_COLOUR, "inference mode (moving statistics)"),
                ("training-mode accuracy", TRAINING_COLOUR, "training mode (batch statistics)")]):
            bars = ax.barh(rows + (offset - 0.5) * 0.38, table[column], height=0.36, color=colour, label=mode)
            ax.bar_label(bars, fmt="%.3f", padding=3, fontsize=10)
        labels = [f"{name}\n(BatchNormalization sees {int(sees)} images)"
                  for name, sees in zip(table.index, table["BatchNormalization sees"])]
        ax.set_yticks(rows, labels)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.set_xlabel("test accuracy")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
        ax.grid(axis="x", alpha=0.3)
    return _finish(fig)


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
    return _finish(fig)


def plot_seeds(table: pd.DataFrame, metrics: dict[str, str] | None = None, title: str | None = None) -> plt.Figure:
    """Every run of every method as a dot, with the mean as a bar and the range as a line.

    Args:
        table: what `over_seeds()` returned.
        metrics: the metrics to draw, each with its axis label; all of them by default.
        title: the figure's title; by default says how many seeds were run.
    """
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
    return _finish(fig)
