"""BatchNormalization's arithmetic in NumPy: the formula, the statistics, how far they moved.

It imports no Keras, so the Keras 2 measurement in `utils.probes` uses the same
code as everything else.
"""

import numpy as np

# BatchNormalization's default epsilon, in Keras 2 and Keras 3.
EPSILON = 1e-3


def batchnorm_reference(x, gamma, beta, mean, variance, epsilon: float = EPSILON) -> np.ndarray:
    """BatchNormalization's formula in NumPy: `gamma * (x - mean) / sqrt(variance + epsilon) + beta`."""
    return gamma * (np.asarray(x) - mean) / np.sqrt(variance + epsilon) + beta


def batch_statistics(x) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance (divided by N) over every axis but the last, as BN computes them."""
    x = np.asarray(x, dtype="float64")
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes), x.var(axis=axes)


def batchnorm_state(layer) -> dict[str, np.ndarray]:
    """A copy of a BatchNormalization layer's `gamma`, `beta`, `moving_mean`, `moving_variance`."""
    return {name: np.array(getattr(layer, name))
            for name in ("gamma", "beta", "moving_mean", "moving_variance")}


def mean_shift(mean, then_mean, then_variance, epsilon: float = EPSILON) -> np.ndarray:
    """How far `mean` is from `then_mean`, in standard deviations of then, per channel.

    `|mean - then_mean| / sqrt(then_variance + epsilon)`: the distance of moving
    means from their pretrained values, with the epsilon BatchNormalization adds.
    """
    return np.abs(np.asarray(mean) - then_mean) / np.sqrt(then_variance + epsilon)
