"""Every figure is legible from the back of a classroom: 110 dpi or more, no text under 10 points."""

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from utils import (
    LivePlot,
    behaviour_matrix,
    build_functional,
    effects_table,
    load_keras_history,
    load_mnist_subset,
    plot_batch_mates,
    plot_batch_statistics,
    plot_behaviour_matrix,
    plot_corruptions,
    plot_curves,
    plot_damage,
    plot_drift,
    plot_effects,
    plot_keras_history,
    plot_lag,
    plot_lag_windows,
    plot_learning_rates,
    plot_mc_uncertainty,
    plot_momentum,
    plot_normalization_batch_sizes,
    plot_overhead,
    plot_pixel_statistics,
    plot_recalibration,
    plot_recipes,
    plot_reliability,
    plot_repairs,
    plot_samples,
    plot_small_batches,
    plot_smoothness,
    plot_target_sizes,
    plot_warmup,
    plot_worker_variance,
    reliability,
)
from utils.figures.style import DPI


@pytest.fixture(scope="module")
def recorded():
    (x, y), _ = load_mnist_subset()
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    live = LivePlot(layer="batchnorm", channel=3)
    model.fit(x[:320], y[:320], batch_size=32, verbose=0, callbacks=[live])
    return live


def _figures(recorded):
    record = recorded.history["batchnorm"]
    curve = pd.DataFrame({"step": [0, 20], "training_accuracy": [0.1, 0.8], "inference_accuracy": [0.1, 0.6],
                          "test accuracy": [0.1, 0.7]})
    recipes = pd.DataFrame({"seed": [0, 0], "recipe": ["one", "two"], "test accuracy": [0.7, 0.8],
                            "shift": [0.0, 0.1]})
    small = pd.DataFrame({"normalization": ["batch", "layer"], "batch size": [1, 1], "inference_accuracy": [0.1, 0.5],
                          "training_accuracy": [0.1, 0.5]}).set_index(["normalization", "batch size"])
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=(3, 16))
    pretrained = {"batchnorm": (record["moving_mean"][0], record["moving_variance"][0])}
    return {
        "behaviour matrix": plot_behaviour_matrix(behaviour_matrix(["functional"], ["fit", "call"])),
        "effects": plot_effects(effects_table()),
        "warm-up": plot_warmup({"momentum 0.99": curve}),
        "lag": plot_lag(recorded.gap("batchnorm", "variance"), 0.99),
        "batch statistics": plot_batch_statistics({"batch size 32": record}, channel=3),
        "small batches": plot_small_batches(small),
        "drift": plot_drift(recorded.history, pretrained, "batchnorm", 3),
        "recipes": plot_recipes(recipes),
        "MC dropout": plot_mc_uncertainty(rng.random((16, 28, 28, 1)), rng.integers(0, 10, 16), probabilities),
        "curves": plot_curves({"fit": curve}, "a title"),
        "live plot": recorded.figure,
        "overhead": plot_overhead({"tensorflow": {"ratios": {"recorder": [0.98, 1.02, 1.4]}, "target": 1.05,
                                                  "plain_seconds": 4.0, "steps": 500}}),
        "reliability": plot_reliability({"model": reliability(probabilities[0], rng.integers(0, 10, 16))}),
        "momentum": plot_momentum({0.9: np.array([1.0, 0.5, 0.2])}, pd.DataFrame({"window": [10.0]}, index=[0.9]), 2),
        "recalibration": plot_recalibration(pd.DataFrame(
            [{"seed": seed, "method": variant, "score": score, "step": step, "value": 0.5 + 0.1 * seed}
             for seed in (0, 1) for variant in ("as trained", "recalibrated")
             for score in ("accuracy", "cross-entropy", "calibration error") for step in (20, 80)])),
        "lag in windows": plot_lag_windows(
            pd.DataFrame([{"seed": seed, "momentum": momentum, "ratio": ratio, "lag in windows": 2.0 + seed}
                          for seed in (0, 1) for momentum in (0.9, 0.99) for ratio in (0.1, 10)]),
            pd.DataFrame({"ratio": [0.1, 10], "lag in windows": [2.5, 4.5]}), marked=(8.0, "a layer")),
        "pixel statistics": plot_pixel_statistics({"a mean": rng.random(784), "another": rng.random(784)}),
        "learning rates": plot_learning_rates(pd.DataFrame(
            [{"model": model, "learning rate": rate, "seed": seed, "test accuracy": 0.5, "diverged": rate > 1}
             for model in ("one", "two", "three") for rate in (0.1, 10) for seed in (0, 1)])),
        "batch mates": plot_batch_mates(rng.random((28, 28, 1)), {
            mode: {"these": rng.dirichlet(np.ones(10)), "those": rng.dirichlet(np.ones(10))}
            for mode in ("training mode", "inference mode")}),
        "smoothness": plot_smoothness(pd.DataFrame(
            [{"model": model, "seed": seed, "step": step, "loss range": 1.0 + seed, "gradient change": 2.0,
              "effective beta": 3.0} for model in ("one", "two") for seed in (0, 1) for step in (0, 30)])),
        "corruptions": plot_corruptions(rng.random((28, 28, 1))),
        "damage": plot_damage(pd.DataFrame(
            [{"seed": seed, "kind": kind, "severity": severity, "accuracy": 0.5} for seed in (0, 1)
             for kind, severity in (("clean", 0), ("blur", 1), ("blur", 2), ("contrast", 1), ("contrast", 2))])),
        "repairs": plot_repairs(pd.DataFrame(
            [{"seed": seed, "method": method, "metric": kind, "value": 0.5 + 0.1 * seed} for seed in (0, 1)
             for method in ("none", "recalibrated") for kind in ("clean", "blur")]), "a title"),
        "target sizes": plot_target_sizes({kind: pd.DataFrame(
            [{"seed": seed, "method": n, "metric": "value", "value": 0.8} for seed in (0, 1) for n in (8, 64)])
            for kind in ("blur", "contrast")}, {"blur": 0.4, "contrast": 0.1}, "a title"),
        "normalization batch sizes": plot_normalization_batch_sizes(pd.DataFrame(
            [{"seed": seed, "group size": size, "metric": metric, "accuracy": 0.9} for seed in (0, 1)
             for size in (2, 16) for metric in ("one", "two", "three")])),
        "samples": plot_samples(rng.random((8, 28, 28, 1)), "a title"),
        "keras history": plot_keras_history(load_keras_history()),
        "worker variance": plot_worker_variance({"measured": rng.random(4)}, {"worker 0": rng.random(4)},
                                                ["a", "b", "c", "d"]),
    }


def test_every_figure_has_at_least_110_dpi_and_no_text_under_10_points(recorded):
    for name, figure in _figures(recorded).items():
        assert figure.dpi >= DPI >= 110, name
        figure.canvas.draw()
        small = {text.get_text(): text.get_fontsize() for text in figure.findobj(Text)
                 if text.get_text() and text.get_visible() and text.get_fontsize() < 10}
        assert not small, f"{name}: text under 10 pt: {small}"


def test_no_figure_title_shows_literal_backticks(recorded):
    for name, figure in _figures(recorded).items():
        titles = [ax.get_title() for ax in figure.axes] + [figure._suptitle.get_text() if figure._suptitle else ""]
        assert not any("`" in title for title in titles), name


def test_every_figure_is_at_least_800_pixels_wide_as_a_notebook_shows_it(recorded):
    widths = {}
    for name, figure in _figures(recorded).items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")  # what IPython's inline display does
        widths[name] = Image.open(buffer).width
    assert not {name: width for name, width in widths.items() if width < 800}
