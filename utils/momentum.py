"""What BatchNormalization's momentum trades: how long the moving statistics lag, how much they jitter."""

from collections.abc import Iterable, Sequence

import keras
import numpy as np
import pandas as pd


def _check_inputs(inputs: np.ndarray, batch_size: int) -> np.ndarray:
    inputs = np.asarray(inputs)
    if inputs.ndim != 2 or len(inputs) < batch_size:
        raise ValueError(f"inputs must be (examples, channels) with at least batch_size={batch_size} "
                         f"examples; got shape {inputs.shape}.")
    if not np.isfinite(inputs).all():
        rows = np.flatnonzero(~np.isfinite(inputs).all(axis=1))
        raise ValueError(f"inputs hold NaN or infinite values in rows {rows[:10].tolist()}; pass finite inputs.")
    return inputs


def _check_momenta(momenta: Iterable[float]) -> None:
    outside = [momentum for momentum in momenta if not 0 <= momentum < 1]
    if outside:
        raise ValueError(f"A momentum must be in [0, 1): at 1 the moving statistics never move, above 1 or "
                         f"below 0 they diverge or flip sign. Got {outside}; Keras' default is 0.99.")


def _batches(count: int, steps: int, batch_size: int, seed: int):
    """The example indices of each of `steps` training batches, drawn in shuffled epochs as `fit` would."""
    rng = np.random.default_rng(seed)
    per_epoch = count // batch_size
    for step in range(steps):
        if step % per_epoch == 0:
            order = rng.permutation(count)
        start = (step % per_epoch) * batch_size
        yield order[start:start + batch_size]


def moving_estimates(inputs: np.ndarray, momentum: float, steps: int, batch_size: int = 32,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fresh BatchNormalization's moving mean and variance after each of `steps` training batches.

    The batches are drawn from `inputs` (examples, channels) in shuffled epochs, as
    `fit` would, and go through a real layer in training mode.

    Returns:
        `(means, variances)`, each shaped (steps, channels).
    """
    _check_momenta([momentum])
    inputs = _check_inputs(inputs, batch_size).astype("float32")
    layer = keras.layers.BatchNormalization(momentum=momentum)
    layer.build(inputs.shape)
    means, variances = [], []
    for batch in _batches(len(inputs), steps, batch_size, seed):
        layer(inputs[batch], training=True)
        means.append(keras.ops.convert_to_numpy(layer.moving_mean))
        variances.append(keras.ops.convert_to_numpy(layer.moving_variance))
    return np.array(means), np.array(variances)


def training_batch_statistics(inputs: np.ndarray, steps: int, batch_size: int = 32,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the variance (divided by N) of each training batch `moving_estimates` would draw.

    Returns:
        `(means, variances)`, each shaped (steps, channels).
    """
    inputs = _check_inputs(inputs, batch_size).astype(np.float64)
    batches = np.array(list(_batches(len(inputs), steps, batch_size, seed)))
    means, variances = [], []
    for chunk in np.array_split(batches, max(1, steps // 1000)):  # a thousand batches at a time: bounded memory
        values = inputs[chunk]
        means.append(values.mean(axis=1))
        variances.append(values.var(axis=1))
    return np.concatenate(means), np.concatenate(variances)


def moving_average(values: np.ndarray, momentum: float, start: float | np.ndarray) -> np.ndarray:
    """BatchNormalization's update, `moving = momentum * moving + (1 - momentum) * value`, after each step.

    Args:
        values: one batch statistic per step, shaped (steps, channels).
        momentum: the layer's momentum.
        start: the moving statistic before the first step (Keras starts the variance at 1, the mean at 0).

    Returns:
        The moving statistic after each step, shaped like `values`.
    """
    _check_momenta([momentum])
    values = np.asarray(values, np.float64)
    # After k steps: momentum^k * start + (1 - momentum) * sum_j momentum^(k - j) * value_j.
    moving, current = np.empty_like(values), np.broadcast_to(np.asarray(start, np.float64), values.shape[1:]).copy()
    for step, value in enumerate(values):
        current = momentum * current + (1 - momentum) * value
        moving[step] = current
    return moving


def _first_within(errors: np.ndarray, tolerance: float) -> float:
    """The first step (counted from 1) whose error is below `tolerance`, NaN if none is."""
    within = np.flatnonzero(errors < tolerance)
    return float(within[0] + 1) if len(within) else np.nan


def momentum_sweep(inputs: np.ndarray, momenta: Sequence[float], steps: int, batch_size: int = 32,
                   tolerance: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, dict[float, np.ndarray]]:
    """Lag and noise of the moving statistics for each momentum, against the inputs' true statistics.

    Each momentum sees the same batches (drawn with `seed`), starting from Keras'
    moving mean 0 and variance 1. Only channels whose inputs vary are measured (a
    ReLU that never fires has nothing to normalise).

    Returns:
        A table with one row per momentum: `window` (1 / (1 - momentum) steps), `lag`
        (the first step at which the moving variance is within `tolerance` of the true
        variance, median over channels; NaN if never within `steps`), `noise` (the
        moving mean's median error in true standard deviations over the last quarter
        of the steps) and `error` (the moving variance's relative error at the last
        step); and, per momentum, the variance's relative error after every step.
    """
    _check_momenta(momenta)
    inputs = _check_inputs(inputs, batch_size).astype(np.float64)
    true_mean, true_variance = inputs.mean(axis=0), inputs.var(axis=0)
    varying = true_variance > 0
    batch_means, batch_variances = training_batch_statistics(inputs[:, varying], steps, batch_size, seed)
    rows, curves = [], {}
    for momentum in momenta:
        means = moving_average(batch_means, momentum, 0.0)
        variances = moving_average(batch_variances, momentum, 1.0)
        variance_error = np.median(np.abs(variances / true_variance[varying] - 1), axis=1)
        mean_error = np.median(np.abs(means - true_mean[varying]) / np.sqrt(true_variance[varying]), axis=1)
        rows.append({"momentum": momentum, "window": 1 / (1 - momentum),
                     "lag": _first_within(variance_error, tolerance),
                     "noise": float(np.median(mean_error[-(steps // 4):])),
                     "error": float(variance_error[-1])})
        curves[momentum] = variance_error
    return pd.DataFrame(rows).set_index("momentum"), curves


def lag_in_windows(inputs: np.ndarray, momenta: Sequence[float], ratios: Sequence[float],
                   seeds: Iterable[int] = (0, 1, 2), batch_size: int = 32, tolerance: float = 0.1,
                   windows: float = 8.0) -> pd.DataFrame:
    """How many windows the moving variance takes to come within `tolerance`, by how far it starts.

    Each channel of `inputs` is rescaled so that its true variance is `1 / ratio`:
    the moving variance starts at Keras' 1, `ratio` times the true variance. The
    same batches then go through the update for `windows` windows of each momentum.

    Returns:
        One row per seed, momentum and ratio: `seed`, `momentum`, `window`, `ratio`,
        `lag` (steps, NaN if never within) and `lag in windows` (lag / window).
    """
    _check_momenta(momenta)
    inputs = _check_inputs(inputs, batch_size).astype(np.float64)
    inputs = inputs[:, inputs.var(axis=0) > 0]
    standard = (inputs - inputs.mean(axis=0)) / inputs.std(axis=0)  # true variance 1 in every channel
    rows = []
    for seed in seeds:
        _, variances = training_batch_statistics(standard, int(np.ceil(windows / (1 - max(momenta)))), batch_size, seed)
        for momentum in momenta:
            steps = int(np.ceil(windows / (1 - momentum)))
            # The update is linear: from start 1 with every batch variance divided by `ratio`,
            # it is momentum^k + (the same update from 0 on the unscaled variances) / ratio.
            decay = momentum ** np.arange(1, steps + 1)[:, None]
            from_zero = moving_average(variances[:steps], momentum, 0.0)
            for ratio in ratios:
                errors = np.median(np.abs((decay + from_zero / ratio) * ratio - 1), axis=1)
                lag = _first_within(errors, tolerance)
                rows.append({"seed": seed, "momentum": momentum, "window": 1 / (1 - momentum), "ratio": ratio,
                             "lag": lag, "lag in windows": lag * (1 - momentum)})
    return pd.DataFrame(rows)


def expected_lag(ratio: float | np.ndarray, momentum: float, tolerance: float = 0.1,
                 batch_size: int = 32) -> float | np.ndarray:
    """The lag in windows if every batch's variance were its expected value, with no noise.

    The expected variance of a batch of N, divided by N, is (N - 1) / N of the true
    variance, so that is where the moving variance settles; the distance to it
    shrinks by `momentum` per step, by about e per window. Starting at `ratio` times
    the true variance, the relative error after k steps is
    `settle - 1 + momentum^k * (ratio - settle)`.

    Returns:
        The first k with that error under `tolerance` in absolute value, in windows
        (k * (1 - momentum)), not rounded to whole steps; 0 if it starts within.
    """
    _check_momenta([momentum])
    ratio = np.asarray(ratio, float)
    settle = 1 - 1 / batch_size
    # Above: momentum^k (ratio - settle) < tolerance + (1 - settle); below: < tolerance - (1 - settle).
    allowed = np.where(ratio > settle, tolerance + (1 - settle), tolerance - (1 - settle))
    steps = np.log(np.abs(ratio - settle) / allowed) / -np.log(momentum)
    return np.maximum(steps, 0.0) * (1 - momentum)
