"""What BatchNormalization's momentum trades: how long the moving statistics lag, how much they jitter."""

from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd


def moving_estimates(inputs: np.ndarray, momentum: float, steps: int, batch_size: int = 32,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fresh BatchNormalization's moving mean and variance after each of `steps` training batches.

    The batches are drawn from `inputs` (examples, channels) in shuffled epochs, as
    `fit` would, and go through a real layer in training mode.

    Returns:
        `(means, variances)`, each shaped (steps, channels).
    """
    inputs = np.asarray(inputs, "float32")
    if inputs.ndim != 2 or len(inputs) < batch_size:
        raise ValueError(f"inputs must be (examples, channels) with at least batch_size={batch_size} "
                         f"examples; got shape {inputs.shape}.")
    layer = keras.layers.BatchNormalization(momentum=momentum)
    layer.build(inputs.shape)
    rng = np.random.default_rng(seed)
    per_epoch = len(inputs) // batch_size
    means, variances = [], []
    for step in range(steps):
        if step % per_epoch == 0:
            order = rng.permutation(len(inputs))
        start = (step % per_epoch) * batch_size
        layer(inputs[order[start:start + batch_size]], training=True)
        means.append(keras.ops.convert_to_numpy(layer.moving_mean))
        variances.append(keras.ops.convert_to_numpy(layer.moving_variance))
    return np.array(means), np.array(variances)


def momentum_sweep(inputs: np.ndarray, momenta: Sequence[float], steps: int, batch_size: int = 32,
                   tolerance: float = 0.1) -> tuple[pd.DataFrame, dict[float, np.ndarray]]:
    """Lag and noise of the moving statistics for each momentum, against the inputs' true statistics.

    Only channels whose inputs vary are measured (a ReLU that never fires has nothing to normalise).

    Returns:
        A table with one row per momentum: `window` (1 / (1 - momentum) steps), `lag`
        (the first step at which the moving variance is within `tolerance` of the true
        variance, median over channels; NaN if never within `steps`), `noise` (the
        moving mean's median error in true standard deviations over the last quarter
        of the steps) and `error` (the moving variance's relative error at the last
        step); and, per momentum, the variance's relative error after every step.
    """
    inputs = np.asarray(inputs, np.float64)
    true_mean, true_variance = inputs.mean(axis=0), inputs.var(axis=0)
    varying = true_variance > 0
    rows, curves = [], {}
    for momentum in momenta:
        means, variances = moving_estimates(inputs, momentum, steps, batch_size)
        variance_error = np.median(np.abs(variances[:, varying] / true_variance[varying] - 1), axis=1)
        mean_error = np.median(np.abs(means[:, varying] - true_mean[varying])
                               / np.sqrt(true_variance[varying]), axis=1)
        within = np.flatnonzero(variance_error < tolerance)
        rows.append({"momentum": momentum, "window": 1 / (1 - momentum),
                     "lag": float(within[0] + 1) if len(within) else np.nan,
                     "noise": float(np.median(mean_error[-(steps // 4):])),
                     "error": float(variance_error[-1])})
        curves[momentum] = variance_error
    return pd.DataFrame(rows).set_index("momentum"), curves
