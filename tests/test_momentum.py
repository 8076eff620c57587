import numpy as np
import pytest

from utils import momentum_sweep, moving_estimates


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
