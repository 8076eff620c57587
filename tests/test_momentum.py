import numpy as np
import pytest

from utils import (
    expected_lag,
    lag_in_windows,
    momentum_sweep,
    moving_average,
    moving_estimates,
    training_batch_statistics,
)


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(3.0, 2.0, (640, 4)).astype("float32")


def test_the_first_step_moves_the_statistics_by_one_minus_momentum(inputs):
    means, variances = moving_estimates(inputs, momentum=0.9, steps=1, batch_size=640)
    np.testing.assert_allclose(means[0], 0.1 * inputs.mean(axis=0), rtol=1e-5)
    # The batch variance divided by N, as numpy's default.
    np.testing.assert_allclose(variances[0], 0.9 + 0.1 * inputs.var(axis=0), rtol=1e-5)


def test_a_higher_momentum_lags_longer_and_jitters_less(inputs):
    table, curves = momentum_sweep(inputs, [0.5, 0.9], steps=200)
    assert table.loc[0.9, "lag"] > table.loc[0.5, "lag"]
    assert table.loc[0.9, "noise"] < table.loc[0.5, "noise"]
    assert len(curves[0.9]) == 200


def test_moving_estimates_needs_a_batch_of_examples(inputs):
    with pytest.raises(ValueError, match="at least batch_size"):
        moving_estimates(inputs[:8], momentum=0.9, steps=1, batch_size=32)


def test_the_numpy_replay_follows_a_real_layer_step_by_step(inputs):
    real_means, real_variances = moving_estimates(inputs, momentum=0.9, steps=60, seed=3)
    batch_means, batch_variances = training_batch_statistics(inputs, steps=60, seed=3)
    np.testing.assert_allclose(moving_average(batch_means, 0.9, 0.0), real_means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(moving_average(batch_variances, 0.9, 1.0), real_variances, rtol=1e-5)


def test_another_seed_draws_other_batches_of_the_same_inputs(inputs):
    first, _ = training_batch_statistics(inputs, steps=20, seed=0)
    other, _ = training_batch_statistics(inputs, steps=20, seed=1)
    assert not np.allclose(first, other)
    # Each epoch uses every example once: the means of one epoch's batches average to the inputs' mean.
    np.testing.assert_allclose(first.mean(axis=0), inputs.mean(axis=0), rtol=1e-5)


def test_the_lag_in_windows_grows_with_how_far_the_start_is_and_follows_the_rule(inputs):
    table = lag_in_windows(inputs, [0.99], [1 / 100, 1 / 3, 3, 100], seeds=(0,))
    lag = table.set_index("ratio")["lag in windows"]
    assert lag[100] > lag[3] and lag[1 / 100] > lag[1 / 3]
    np.testing.assert_allclose(lag, expected_lag(lag.index.to_numpy(), 0.99), rtol=0.1)


def test_the_expected_lag_is_zero_when_the_start_is_already_within_the_tolerance():
    assert expected_lag(1.0, 0.9) == 0.0
    # Far off, each window shrinks the error by about e: 100 times is about ln(99 / 0.13) windows.
    assert expected_lag(100.0, 0.999) == pytest.approx(np.log((100 - 31 / 32) / (0.1 + 1 / 32)), rel=1e-2)


@pytest.mark.parametrize("momentum", [1.0, 1.5, -0.1])
def test_a_momentum_outside_zero_to_one_is_refused_with_the_range(inputs, momentum):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\).*Keras' default is 0.99"):
        momentum_sweep(inputs, [0.9, momentum], steps=10)


def test_inputs_with_nan_are_refused_with_the_rows(inputs):
    broken = inputs.copy()
    broken[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in rows \[5\]"):
        momentum_sweep(broken, [0.9], steps=10)
