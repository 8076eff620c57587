"""The history of `training` in Keras: what each release does, scenario by scenario (the history notebook)."""

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from utils.figures.behaviour import _SCENARIO_LABELS
from utils.figures.style import INFERENCE_COLOUR, NONE_COLOUR, STYLE, TRAINING_COLOUR, WRONG_COLOUR, finish
from utils.history import backend_differences, history_changes, measured_releases, release_label
from utils.probes import CALL_LABELS, CALLS, SCENARIOS

_COLOURS = {True: TRAINING_COLOUR, False: INFERENCE_COLOUR, None: NONE_COLOUR}
# The other fields as letters in each cell, so that one grid shows all four.
_LETTERS = {"bn_used_batch_stats": "B", "bn_updated": "U", "dropout_active": "D"}


def _cell_text(row) -> str:
    return "".join(letter for field, letter in _LETTERS.items() if row[field]) or "-"


def _tick_label(version: str) -> str:
    label = release_label(version)
    return "Keras 2\n(tf-keras)" if label.startswith("Keras 2") else label.replace("nightly ", "nightly\n")


def plot_keras_history(history: pd.DataFrame | list[dict], title: str | None = None) -> plt.Figure:
    """Draw every measured release's behaviour matrix side by side: releases left to right, pairs top to bottom.

    Each cell is coloured by the `training` value the probe received; its letters say what
    BatchNormalization and Dropout did. A cell framed in red differs on some field, on some
    backend, from the release measured before it; a release with such a cell has its name in red.
    Where TensorFlow and JAX measured differently, the cell is split: TensorFlow above the
    diagonal, JAX below.

    Args:
        history: what `load_keras_history()` returned, or its rows.
        title: the figure's title; by default says which releases were measured.
    """
    history = pd.DataFrame(history)
    releases = measured_releases(history)
    pairs = [(scenario, call) for scenario in SCENARIOS for call in CALLS
             if ((history["scenario"] == scenario) & (history["call"] == call)).any()]
    # One row per release and pair: TensorFlow's where measured, JAX's otherwise.
    cells, jax = {}, {}
    for row in history.to_dict("records"):
        key = (row["keras_version"], row["scenario"], row["call"])
        if row["backend"] == "jax":
            jax[key] = row
        if row["backend"] == "tensorflow" or key not in cells:
            cells[key] = row
    split = {(row.keras_version, row.scenario, row.call) for row in backend_differences(history).itertuples()}
    changed = {(row.after_release, row.scenario, row.call) for row in history_changes(history).itertuples()}
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(0.62 * len(releases) + 6.4, 0.27 * len(pairs) + 2.6))
        for j, release in enumerate(releases):
            for i, (scenario, call) in enumerate(pairs):
                row = cells.get((release, scenario, call))
                if row is None:
                    continue
                key = (release, scenario, call)
                if key in split:
                    ax.add_patch(plt.Polygon([(j, i), (j + 1, i), (j, i + 1)],
                                             facecolor=_COLOURS[row["probe_training"]]))
                    ax.add_patch(plt.Polygon([(j + 1, i), (j + 1, i + 1), (j, i + 1)],
                                             facecolor=_COLOURS[jax[key]["probe_training"]]))
                else:
                    ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=_COLOURS[row["probe_training"]]))
                text = f"{_cell_text(row)}/{_cell_text(jax[key])}" if key in split else _cell_text(row)
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=10)
                if key in changed:
                    ax.add_patch(plt.Rectangle((j + 0.06, i + 0.06), 0.88, 0.88, fill=False,
                                               edgecolor=WRONG_COLOUR, linewidth=2))
        for i in range(len(pairs) + 1):
            ax.axhline(i, color="white", linewidth=3 if i % len(CALLS) == 0 else 1)
        for j in range(len(releases) + 1):
            ax.axvline(j, color="white", linewidth=1)
        ax.set_xlim(0, len(releases))
        ax.set_ylim(len(pairs), 0)
        ax.set_xticks([j + 0.5 for j in range(len(releases))], [_tick_label(r) for r in releases], rotation=90)
        for label, release in zip(ax.get_xticklabels(), releases):
            if any(key[0] == release for key in changed):
                label.set_color(WRONG_COLOUR)
                label.set_fontweight("bold")
        ax.set_yticks([i + 0.5 for i in range(len(pairs))], [CALL_LABELS[call] for _, call in pairs])
        for scenario in (dict.fromkeys(scenario for scenario, _ in pairs)):
            rows = [i for i, (s, _) in enumerate(pairs) if s == scenario]
            ax.text(len(releases) + 0.3, (rows[0] + rows[-1] + 1) / 2, _SCENARIO_LABELS.get(scenario, scenario),
                    ha="left", va="center", fontsize=10)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in _COLOURS.values()]
        labels = [f"received training={value}" for value in _COLOURS]
        handles.append(Line2D([], [], color=WRONG_COLOUR, linewidth=2))
        labels.append("differs from the release before")
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4, frameon=False,
                  title="B: BN used the batch's statistics, U: BN's moving statistics updated, D: Dropout on; "
                        "split cell: TensorFlow above and before the slash, JAX below and after it")
        backends = " and ".join(b for b in ("tensorflow", "jax") if b in set(history["backend"]))
        ax.set_title(title or f"What each Keras release does, measured on {backends}: "
                     f"{len(releases)} releases", pad=12)
    return finish(fig)
