"""What each call passes as `training`, and what freezing and `training` change (01, 03)."""

import textwrap

import matplotlib.pyplot as plt
import pandas as pd

from utils.figures.style import INFERENCE_COLOUR, NONE_COLOUR, STYLE, TRAINING_COLOUR, finish
from utils.probes import CALL_LABELS

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
    return finish(fig)


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
    return finish(fig)

