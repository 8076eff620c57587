"""A callback that measures the model every few training steps while `fit` runs."""

from collections.abc import Callable

import keras


class StepMeter(keras.callbacks.Callback):
    """Call `measure(model)` every `every` training steps and keep `(step, result)` in `rows`.

    Args:
        measure: what to measure; it receives the model being trained.
        every: measure after every this many steps (and once before the first).
        steps: stop training after this many steps; never by default.
    """

    def __init__(self, measure: Callable[[keras.Model], object], every: int, steps: int | None = None):
        super().__init__()
        self.measure, self.every, self.steps = measure, every, steps
        self.rows: list[tuple[int, object]] = []

    def on_train_begin(self, logs=None):
        self.step = 0
        self.rows.append((0, self.measure(self.model)))

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self.rows.append((self.step, self.measure(self.model)))
        if self.step == self.steps:
            self.model.stop_training = True
