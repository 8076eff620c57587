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
    if x.size == 0:
        raise ValueError(f"batch_statistics needs a batch, shaped (examples, ..., channels); got shape {x.shape}.")
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes), x.var(axis=axes)


def batchnorm_state(layer) -> dict[str, np.ndarray]:
    """A copy of a BatchNormalization layer's `gamma`, `beta`, `moving_mean`, `moving_variance`."""
    return {name: np.array(getattr(layer, name))
            for name in ("gamma", "beta", "moving_mean", "moving_variance")}


def used_batch_statistics(x: np.ndarray, output: np.ndarray, state: dict[str, np.ndarray], epsilon: float,
                          layer: str = "BatchNormalization") -> bool:
    """Tell from its `output` which statistics a BatchNormalization layer normalised `x` with.

    Args:
        state: the layer's `batchnorm_state` when it ran.
        layer: its name, for the error when the output matches neither.

    Returns:
        True for the batch's own statistics, False for the moving ones.
    """
    with_batch = batchnorm_reference(x, state["gamma"], state["beta"], *batch_statistics(x), epsilon)
    with_moving = batchnorm_reference(x, state["gamma"], state["beta"], state["moving_mean"],
                                      state["moving_variance"], epsilon)
    if np.allclose(output, with_batch, atol=1e-4):
        return True
    if np.allclose(output, with_moving, atol=1e-4):
        return False
    raise RuntimeError(f"{layer}'s output matches neither its batch nor its moving statistics.")


def mean_shift(mean, then_mean, then_variance, epsilon: float = EPSILON) -> np.ndarray:
    """How far `mean` is from `then_mean`, in standard deviations of then, per channel.

    `|mean - then_mean| / sqrt(then_variance + epsilon)`: the distance of moving
    means from their pretrained values, with the epsilon BatchNormalization adds.
    """
    return np.abs(np.asarray(mean) - then_mean) / np.sqrt(then_variance + epsilon)
