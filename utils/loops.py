"""Training the same model with `fit` and with a hand-written GradientTape loop."""

import keras
import numpy as np
import pandas as pd

from utils.callbacks import StepMeter
from utils.steps import training_step

FIT, LOOP_TRAINING_TRUE, LOOP_PLAIN = "fit", "loop with model(x, training=True)", "loop with model(x)"
METHODS = (FIT, LOOP_TRAINING_TRUE, LOOP_PLAIN)


def _accuracy(model: keras.Model, test: tuple) -> float:
    """Inference-mode accuracy of `model` on `test`."""
    x, y = test
    return float(np.mean(keras.ops.convert_to_numpy(model(x, training=False)).argmax(axis=1) == y))


def train_and_track(model: keras.Model, method: str, train: tuple, test: tuple, epochs: int = 2,
                    batch_size: int = 32, every: int = 25, seed: int = 0) -> pd.DataFrame:
    """Train `model` with `method`, measuring inference-mode test accuracy as it goes.

    The loops run the step `fit` runs: the loss under a GradientTape, its
    gradients applied to `model.trainable_weights` by Adam, on the same
    shuffled batches; only the `training` value of the call differs.

    Args:
        model: an uncompiled classifier with softmax outputs.
        method: one of `METHODS`.
        train: (x, y) to train on; test: (x, y) to measure on.
        every: measure after every `every` steps.

    Returns:
        One row per measurement: `step`, `test accuracy`.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; the methods are {list(METHODS)}.")
    keras.utils.set_random_seed(seed)
    optimizer = keras.optimizers.Adam()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    if method == FIT:
        model.compile(optimizer=optimizer, loss=loss_fn)
        meter = StepMeter(lambda model: _accuracy(model, test), every)
        model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[meter])
        return pd.DataFrame(meter.rows, columns=["step", "test accuracy"])
    rows = [(0, _accuracy(model, test))]

    training = True if method == LOOP_TRAINING_TRUE else None

    train_step = training_step(model, optimizer, loss_fn, training)

    x, y = train
    step = 0
    for _ in range(epochs):
        order = np.random.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            train_step(x[batch], y[batch])
            step += 1
            if step % every == 0:
                rows.append((step, _accuracy(model, test)))
    return pd.DataFrame(rows, columns=["step", "test accuracy"])
