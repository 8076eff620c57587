"""Notebook 03's experiments: both modes as training starts, and the normalizations at small batch sizes."""

from collections.abc import Iterable

import keras
import numpy as np
import pandas as pd

from utils.bn import compare_modes
from utils.callbacks import StepMeter
from utils.models import build_functional
from utils.session import seed_everything


def warmup_curve(model: keras.Model, train: tuple, test: tuple, steps: int = 300,
                 every: int = 20, batch_size: int = 32) -> pd.DataFrame:
    """Train `model` for `steps` steps and measure both modes on `test` as it goes.

    Args:
        model: a compiled model with BatchNormalization.
        train: (x, y) to train on, in order, as many epochs as `steps` needs.
        test: (x, y) to measure on, with `compare_modes`.
        steps: how many training steps to take.
        every: measure after every this many steps (and before the first).
        batch_size: of the training steps and of the training-mode measurement.

    Returns:
        One row per measurement: `step` and what `compare_modes` returns.
    """
    x, y = train
    batches = len(x) // batch_size
    if batches == 0:
        raise ValueError(f"train has {len(x)} examples, fewer than one batch of {batch_size}.")
    meter = StepMeter(lambda model: compare_modes(model, *test, batch_size), every, steps)
    model.fit(x[:batches * batch_size], y[:batches * batch_size], batch_size=batch_size,
              epochs=-(-steps // batches), shuffle=False, verbose=0, callbacks=[meter])
    return pd.DataFrame([dict(step=step, **modes) for step, modes in meter.rows])


def small_batch_comparison(train: tuple, test: tuple, batch_sizes: Iterable[int] = (1, 2, 4, 32),
                           normalizations: Iterable[str] = ("batch", "layer", "group"),
                           steps: int = 100, recorders: dict | None = None) -> pd.DataFrame:
    """Train the seed model with each normalization layer at each batch size; measure both modes.

    Every run starts from the same initial weights, random-seed state and a
    fresh optimizer state, and takes `steps` steps of `batch_size` training
    examples, in order (repeated as needed). Training mode is measured on the
    test set in batches of the same size, as `compare_modes` does.

    Args:
        train, test: (x, y) pairs.
        batch_sizes: the batch sizes to train with.
        normalizations: keys of `utils.models.NORMALIZATIONS`.
        steps: training steps per run.
        recorders: batch size -> a `BatchNormRecorder` for the BatchNormalization
            run at that batch size.

    Returns:
        One row per (normalization, batch size): `inference_accuracy`,
        `training_accuracy` and `gap` (inference minus training accuracy).
    """
    x, y = train
    recorders = recorders or {}
    rows = []
    for normalization in normalizations:
        seed_everything(0)
        model = build_functional(normalization=normalization)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        # Every variable, Dropout's random-seed state included.
        initial = [variable.numpy() for variable in model.variables]
        for batch_size in batch_sizes:
            # Reset rather than compile again: a compiled train step is traced once per
            # model, and tracing takes longer than these runs' training.
            for variable, value in zip(model.variables, initial):
                variable.assign(value)
            for variable in model.optimizer.variables:
                if not variable.path.endswith("learning_rate"):
                    variable.assign(np.zeros(variable.shape, variable.dtype))
            record = [recorders[batch_size]] if normalization == "batch" and batch_size in recorders else []
            count = steps * batch_size
            model.fit(np.resize(x, (count, *x.shape[1:])), np.resize(y, count),
                      batch_size=batch_size, shuffle=False, verbose=0, callbacks=record)
            modes = compare_modes(model, *test, batch_size=batch_size)
            rows.append({"normalization": normalization, "batch size": batch_size,
                         "inference_accuracy": modes["inference_accuracy"],
                         "training_accuracy": modes["training_accuracy"],
                         "gap": modes["inference_accuracy"] - modes["training_accuracy"]})
    return pd.DataFrame(rows).set_index(["normalization", "batch size"])
