"""What BatchNormalization buys: the seed model with and without it, over learning rates and seeds."""

from collections.abc import Callable, Iterable

import keras
import numpy as np
import pandas as pd

from utils.models import WITHOUT_NORMALIZATION, build_functional
from utils.repair import recalibrate_batchnorm

WITH_BATCHNORM, WITHOUT_BATCHNORM = "with BatchNormalization", "without BatchNormalization"
_NORMALIZATION = {WITH_BATCHNORM: "batch", WITHOUT_BATCHNORM: WITHOUT_NORMALIZATION}


def _trainer(normalization: str) -> tuple[keras.Model, Callable[[list], None]]:
    """One compiled seed model, and a function that puts a run's starting values into it.

    Compiled once so that every run of the sweep reuses the same traced step; a run then
    starts from another seed's initial weights and random state by assigning them.
    """
    model = build_functional(normalization=normalization)
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy")

    def start(values: list) -> None:
        for variable, value in zip(model.variables, values):
            variable.assign(value)
        for variable in model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    return model, start


def _accuracy(model: keras.Model, test: tuple) -> float:
    """The share of `test` that `model` classifies right, in inference mode."""
    predicted = np.argmax(model.predict(test[0], batch_size=500, verbose=0), axis=-1)
    return float(np.mean(predicted == test[1]))


def learning_rate_sweep(train: tuple, test: tuple, learning_rates: Iterable[float], seeds: Iterable[int],
                        steps: int = 120, batch_size: int = 32, progress: Callable[[str], None] = print
                        ) -> pd.DataFrame:
    """Train the seed model with and without BatchNormalization by plain SGD at each learning rate and seed.

    The two models differ by the one layer: with the same seed every other initial weight,
    and Dropout's random state, are the same. Every run takes the same `steps` steps of
    `batch_size` images, from the start of `train`.

    Args:
        train: images and labels, at least `steps * batch_size` of them.
        test: images and labels to score on, in inference mode.
        progress: called with a line after each learning rate (None: silent).

    Returns:
        One row per run: `model`, `learning rate`, `seed`, `test accuracy`, `diverged`
        (the last training loss or the weights are not finite; such a model's outputs are
        not numbers, and its accuracy is that of predicting the digit 0 for every image) and
        `test accuracy, recalibrated`: with BatchNormalization, scored again after
        `recalibrate_batchnorm` on the training images, so that a short run is not judged
        by moving statistics that still lag (without it, or diverged, the same score).
        Its `attrs` hold `steps` and `one digit for every image`, the accuracy of always
        predicting the test set's most frequent digit.
    """
    learning_rates, seeds = list(learning_rates), list(seeds)
    if not learning_rates or any(not np.isfinite(rate) or rate <= 0 for rate in learning_rates):
        raise ValueError(f"learning_rates must be positive numbers, at least one; got {learning_rates}.")
    if len(seeds) < 2:
        raise ValueError(f"A sweep needs at least 2 seeds to show a spread, got {seeds}; pass seeds=range(3).")
    images = steps * batch_size
    if len(train[0]) < images:
        raise ValueError(f"{steps} steps of {batch_size} need {images} training images; got {len(train[0])}. "
                         "Pass fewer steps or a smaller batch_size.")
    x, y = train[0][:images], train[1][:images]
    rows = []
    for name, normalization in _NORMALIZATION.items():
        model, start = _trainer(normalization)
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            fresh = build_functional(normalization=normalization)
            initial = [keras.ops.convert_to_numpy(v.value) for v in fresh.variables]
            for rate in learning_rates:
                start(initial)
                model.optimizer.learning_rate.assign(rate)
                history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
                weights_finite = all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in model.weights)
                diverged = not (np.isfinite(history.history["loss"][-1]) and weights_finite)
                accuracy = _accuracy(model, test)
                recalibrated = accuracy
                if normalization == "batch" and not diverged:
                    recalibrate_batchnorm(model, x)
                    recalibrated = _accuracy(model, test)
                rows.append({"model": name, "learning rate": rate, "seed": seed, "test accuracy": accuracy,
                             "test accuracy, recalibrated": recalibrated, "diverged": diverged})
        if progress is not None:
            progress(f"{name}: {len(seeds) * len(learning_rates)} runs done")
    table = pd.DataFrame(rows)
    table.attrs["steps"] = steps
    table.attrs["one digit for every image"] = float(np.bincount(np.asarray(test[1])).max() / len(test[1]))
    return table
