"""The learning-rate sweep: every run, like with like, divergence detected."""

import numpy as np
import pytest

from utils import WITH_BATCHNORM, WITH_NOISY_BATCHNORM, WITHOUT_BATCHNORM, learning_rate_sweep, load_mnist_subset


@pytest.fixture(scope="module")
def data():
    (x, y), (x_test, y_test) = load_mnist_subset()
    return (x[:320], y[:320]), (x_test[:200], y_test[:200])


@pytest.fixture(scope="module")
def sweep(data):
    return learning_rate_sweep(*data, learning_rates=[0.05, 1e4], seeds=[0, 1], steps=10, progress=None)


def test_the_sweep_has_one_row_per_model_learning_rate_and_seed(sweep):
    assert len(sweep) == 2 * 2 * 2
    assert not sweep.duplicated(["model", "learning rate", "seed"]).any()


def test_a_run_repeated_from_the_same_seed_gives_the_same_accuracy(data, sweep):
    again = learning_rate_sweep(*data, learning_rates=[0.05], seeds=[1, 0], steps=10, progress=None)
    for _, row in again.iterrows():
        match = sweep[(sweep["model"] == row["model"]) & (sweep["seed"] == row["seed"])
                      & (sweep["learning rate"] == 0.05)]
        assert match["test accuracy"].item() == row["test accuracy"]


def test_a_huge_learning_rate_is_caught_as_diverged_and_a_small_one_is_not(sweep):
    assert sweep[sweep["learning rate"] == 1e4]["diverged"].any()
    assert not sweep[sweep["learning rate"] == 0.05]["diverged"].any()


def test_a_small_learning_rate_learns_above_chance_with_either_model(sweep):
    assert (sweep[sweep["learning rate"] == 0.05]["test accuracy"] > 0.2).all()


@pytest.mark.parametrize("rates", [[], [0.1, -1.0], [float("nan")]])
def test_learning_rates_that_are_not_positive_numbers_are_refused(data, rates):
    with pytest.raises(ValueError, match="positive numbers"):
        learning_rate_sweep(*data, learning_rates=rates, seeds=[0, 1], steps=1, progress=None)


def test_too_few_training_images_for_the_steps_are_refused_with_what_to_pass(data):
    with pytest.raises(ValueError, match="fewer steps"):
        learning_rate_sweep(*data, learning_rates=[0.1], seeds=[0, 1], steps=100, progress=None)


def test_one_seed_is_refused_since_it_shows_no_spread(data):
    with pytest.raises(ValueError, match="at least 2 seeds"):
        learning_rate_sweep(*data, learning_rates=[0.1], seeds=[0], steps=1, progress=None)


def test_without_batchnorm_the_recalibrated_score_is_the_score(sweep):
    plain = sweep[sweep["model"] == WITHOUT_BATCHNORM]
    assert (plain["test accuracy, recalibrated"] == plain["test accuracy"]).all()


def test_with_batchnorm_recalibrating_changes_a_short_runs_score(sweep):
    trained = sweep[(sweep["model"] == WITH_BATCHNORM) & ~sweep["diverged"]]
    assert (trained["test accuracy, recalibrated"] != trained["test accuracy"]).any()


def test_a_model_the_sweep_does_not_build_is_refused_with_the_choices(data):
    with pytest.raises(ValueError, match="choose from"):
        learning_rate_sweep(*data, learning_rates=[0.1], seeds=[0, 1], steps=1, progress=None, models=["mystery"])


def test_noise_after_batchnorm_trains_from_the_same_start_to_a_different_model(data, sweep):
    noisy = learning_rate_sweep(*data, learning_rates=[0.05], seeds=[0, 1], steps=10, progress=None,
                                models=[WITH_NOISY_BATCHNORM])
    plain = sweep[(sweep["model"] == WITH_BATCHNORM) & (sweep["learning rate"] == 0.05)]
    assert list(noisy["seed"]) == list(plain["seed"])
    assert not np.allclose(noisy["test accuracy"], plain["test accuracy"])
