"""A comparison over seeds: a tidy table, its spread, and a winner only when the runs do not overlap."""

import keras
import numpy as np
import pandas as pd
import pytest

from utils import (
    apart,
    build_functional,
    load_mnist_subset,
    mean_and_range,
    over_seeds,
    plot_seeds,
    spread,
    verdict,
    winner,
)


def _table(first: list[float], second: list[float], metric: str = "accuracy") -> pd.DataFrame:
    return over_seeds(lambda seed: {"first": {metric: first[seed]}, "second": {metric: second[seed]}},
                      seeds=range(len(first)))


def test_over_seeds_returns_one_row_per_seed_method_and_metric():
    table = over_seeds(lambda seed: {"a": {"accuracy": seed, "loss": -seed}, "b": 2 * seed}, seeds=[0, 1, 2])
    assert list(table.columns) == ["seed", "method", "metric", "value"]
    assert len(table) == 3 * 3
    assert set(table["metric"]) == {"accuracy", "loss", "value"}


def test_over_seeds_measures_a_real_model_differently_per_seed():
    (x, y), (x_test, y_test) = load_mnist_subset()

    def measure(seed: int) -> dict:
        keras.utils.set_random_seed(seed)
        model = build_functional()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x[:256], y[:256], batch_size=32, epochs=1, verbose=0)
        return {"one epoch": model.evaluate(x_test[:200], y_test[:200], verbose=0)[1]}

    table = over_seeds(measure, seeds=[0, 1])
    assert table["seed"].tolist() == [0, 1]
    assert table["value"].nunique() == 2


def test_over_seeds_refuses_a_single_seed():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        over_seeds(lambda seed: {"a": 1.0}, seeds=[0])


def test_over_seeds_refuses_a_measurement_that_is_not_a_dictionary():
    with pytest.raises(TypeError, match=r"\{method: value\}"):
        over_seeds(lambda seed: 0.5, seeds=[0, 1])


def test_spread_gives_mean_lowest_highest_and_runs_in_the_tables_order():
    summary = spread(_table([0.9, 0.7, 0.8], [0.1, 0.3, 0.2]))
    assert list(summary.index) == ["first", "second"]
    assert summary.loc["first", "mean"] == pytest.approx(0.8)
    assert summary.loc["first", "min"] == pytest.approx(0.7)
    assert summary.loc["first", "max"] == pytest.approx(0.9)
    assert summary.loc["first", "range"] == pytest.approx(0.2)
    assert summary.loc["second", "runs"] == 3


def test_spread_asks_which_metric_when_there_are_several():
    table = over_seeds(lambda seed: {"a": {"accuracy": 1, "loss": 2}}, seeds=[0, 1])
    with pytest.raises(ValueError, match="metric="):
        spread(table)
    with pytest.raises(KeyError, match="holds"):
        spread(table, "calibration")


def test_methods_are_apart_only_when_their_runs_do_not_overlap():
    assert apart(_table([0.9, 0.8, 0.85], [0.5, 0.6, 0.7]), "first", "second")
    assert not apart(_table([0.9, 0.6, 0.85], [0.5, 0.65, 0.7]), "first", "second")


def test_apart_names_an_unknown_method():
    with pytest.raises(KeyError, match="no method 'third'"):
        apart(_table([1, 2], [3, 4]), "first", "third")


def test_winner_is_none_when_the_runs_overlap():
    assert winner(_table([0.9, 0.6, 0.85], [0.5, 0.65, 0.7]), "first", "second") is None


def test_winner_follows_the_direction_of_better():
    table = _table([0.9, 0.8, 0.85], [0.5, 0.6, 0.7])
    assert winner(table, "first", "second") == "first"
    assert winner(table, "first", "second", higher_is_better=False) == "second"


def test_verdict_names_the_winner_and_the_difference():
    sentence = verdict(_table([0.9, 0.8, 0.85], [0.5, 0.6, 0.7]), "first", "second")
    assert sentence.startswith("first 0.850 (runs 0.800 to 0.900) beats second 0.600")
    assert "every one of 3 seeds, by 0.250" in sentence


def test_verdict_says_not_apart_when_the_runs_overlap():
    sentence = verdict(_table([0.9, 0.6, 0.85], [0.5, 0.65, 0.7]), "first", "second")
    assert "not apart here" in sentence


def test_mean_and_range_reads_mean_then_lowest_to_highest():
    assert mean_and_range(np.array([0.1, 0.2, 0.3]), digits=2) == "0.20 (0.10 to 0.30)"


def test_plot_seeds_draws_one_dot_per_run():
    table = over_seeds(lambda seed: {"a": {"accuracy": 0.5 + seed / 10, "loss": 1 - seed / 10},
                                     "b": {"accuracy": 0.4, "loss": 1.2}}, seeds=range(3))
    fig = plot_seeds(table, {"accuracy": "test accuracy", "loss": "test loss"})
    dots = [line for ax in fig.axes for line in ax.lines if line.get_marker() == "o"]
    assert sum(len(line.get_xdata()) for line in dots) == 2 * 2 * 3


def test_plot_seeds_starts_the_axis_near_close_values_and_at_zero_otherwise():
    close = over_seeds(lambda seed: {"a": 0.76 + seed / 100, "b": 0.73 + seed / 100}, seeds=range(3))
    spread_out = over_seeds(lambda seed: {"a": 0.9, "b": 0.2 + seed / 10}, seeds=range(3))
    left_close = plot_seeds(close).axes[0].get_xlim()[0]
    assert 0.6 < left_close < 0.73
    assert plot_seeds(spread_out).axes[0].get_xlim()[0] == 0.0
