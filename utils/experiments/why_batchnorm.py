"""What BatchNormalization buys: the seed model with and without it over learning rates and seeds,
with noise after it, and how smooth its loss is along the gradient."""

from collections.abc import Callable, Iterable

import keras
import numpy as np
import pandas as pd

from utils.models import INPUT_SHAPE, WITHOUT_NORMALIZATION, build_functional, seed_layers
from utils.repair import recalibrate_batchnorm
from utils.steps import gradients

WITH_BATCHNORM, WITHOUT_BATCHNORM = "with BatchNormalization", "without BatchNormalization"
WITH_NOISY_BATCHNORM = "with BatchNormalization, then noise"


class BatchNoise(keras.layers.Layer):
    """Noise whose mean and scale change at every training step; the identity in inference mode.

    At each call in training mode every unit j draws a mean m_j ~ U(-shift, shift) and a
    standard deviation s_j ~ U(1, scale), and every activation becomes
    x + m_j + s_j * e with e ~ N(0, 1), one e per example and unit: a distribution whose
    mean and variance are not those BatchNormalization just set, and change every step.
    """

    def __init__(self, shift: float = 1.0, scale: float = 2.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not (shift >= 0 and scale >= 1):
            raise ValueError(f"BatchNoise needs shift >= 0 and scale >= 1, got shift={shift}, scale={scale}.")
        self.shift, self.scale, self.seed = shift, scale, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        units = (inputs.shape[-1],)
        mean = keras.random.uniform(units, -self.shift, self.shift, seed=self.seed_generator)
        deviation = keras.random.uniform(units, 1.0, self.scale, seed=self.seed_generator)
        return inputs + mean + deviation * keras.random.normal(keras.ops.shape(inputs), seed=self.seed_generator)

    def get_config(self) -> dict:
        return {**super().get_config(), "shift": self.shift, "scale": self.scale, "seed": self.seed}


def _noisy_functional() -> keras.Model:
    """The seed model (Functional) with a `BatchNoise`, "noise", right after its BatchNormalization."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    for layer in seed_layers():
        x = layer(x)
        if layer.name == "batchnorm":
            x = BatchNoise(name="noise")(x)
    return keras.Model(inputs, x, name="seed_functional_noisy")


_BUILDERS: dict[str, Callable[[], keras.Model]] = {
    WITH_BATCHNORM: build_functional,
    WITH_NOISY_BATCHNORM: _noisy_functional,
    WITHOUT_BATCHNORM: lambda: build_functional(normalization=WITHOUT_NORMALIZATION),
}


def _check_models(models: list[str]) -> None:
    """Raise if `models` is empty or names a model this module does not build."""
    unknown = [name for name in models if name not in _BUILDERS]
    if not models or unknown:
        raise ValueError(f"Unknown models {unknown or models}; choose from {list(_BUILDERS)}.")


def _variables(model: keras.Model) -> dict[str, keras.Variable]:
    """Layer name and position in the layer -> variable: a key that, unlike a seed generator's path, is the
    same in every build."""
    return {f"{layer.name}/{index}": variable for layer in model.layers
            for index, variable in enumerate(layer.variables)}


def _initial_values(name: str, seed: int) -> dict[str, np.ndarray]:
    """`_variables` key -> initial value of the model `name` built after `keras.utils.set_random_seed(seed)`.

    The noisy model takes the values of the model with BatchNormalization, so that the two
    start from the same weights and Dropout's random state; only its noise's state is its own.
    """
    keras.utils.set_random_seed(seed)
    values = {key: keras.ops.convert_to_numpy(v.value) for key, v in _variables(_BUILDERS[name]()).items()}
    if name == WITH_NOISY_BATCHNORM:
        values.update(_initial_values(WITH_BATCHNORM, seed))
    return values


def _trainer(name: str) -> tuple[keras.Model, Callable[[dict], None]]:
    """One compiled model `name`, and a function that puts a run's starting values into it.

    Compiled once so that every run reuses the same traced step; a run then starts from
    another seed's initial weights and random state by assigning them. Starting zeroes every
    optimizer variable, the learning rate too: assign it after.
    """
    model = _BUILDERS[name]()
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy")

    def start(values: dict[str, np.ndarray]) -> None:
        for key, variable in _variables(model).items():
            variable.assign(values[key])
        for variable in model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    return model, start


def _accuracy(model: keras.Model, test: tuple) -> float:
    """The share of `test` that `model` classifies right, in inference mode."""
    predicted = np.argmax(model.predict(test[0], batch_size=500, verbose=0), axis=-1)
    return float(np.mean(predicted == test[1]))


def learning_rate_sweep(train: tuple, test: tuple, learning_rates: Iterable[float], seeds: Iterable[int],
                        steps: int = 120, batch_size: int = 32, progress: Callable[[str], None] = print,
                        models: Iterable[str] = (WITH_BATCHNORM, WITHOUT_BATCHNORM)) -> pd.DataFrame:
    """Train the seed model with and without BatchNormalization by plain SGD at each learning rate and seed.

    The models differ by one layer: with the same seed every other initial weight,
    and Dropout's random state, are the same. Every run takes the same `steps` steps of
    `batch_size` images, from the start of `train`.

    Args:
        train: images and labels, at least `steps * batch_size` of them.
        test: images and labels to score on, in inference mode.
        progress: called with a line after each model (None: silent).
        models: which models to train: `WITH_BATCHNORM`, `WITHOUT_BATCHNORM`, and
            `WITH_NOISY_BATCHNORM`, the one with a `BatchNoise` right after its BatchNormalization.

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
    learning_rates, seeds, models = list(learning_rates), list(seeds), list(models)
    _check_models(models)
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
    for name in models:
        model, start = _trainer(name)
        for seed in seeds:
            initial = _initial_values(name, seed)
            for rate in learning_rates:
                start(initial)
                model.optimizer.learning_rate.assign(rate)
                history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
                weights_finite = all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in model.weights)
                diverged = not (np.isfinite(history.history["loss"][-1]) and weights_finite)
                accuracy = _accuracy(model, test)
                recalibrated = accuracy
                if name != WITHOUT_BATCHNORM and not diverged:
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


def loss_along_gradient(model: keras.Model, x: np.ndarray, y: np.ndarray,
                        step_sizes: Iterable[float]) -> pd.DataFrame:
    """The loss on (x, y), and its gradient, after a step of each size along minus the gradient there.

    Every evaluation is in training mode (batch statistics) with the same random state, so
    Dropout drops the same units each time; the model is left as it was.

    Returns:
        One row per step size: `step size`, `loss` (cross-entropy after that step) and
        `gradient change`, the L2 norm of the gradient there minus the gradient at the start,
        and `effective beta`: that change over the distance moved (step size times the
        gradient's norm), the slope of the gradient along the way, which does not grow with
        the gradient's own size.
    """
    step_sizes = list(step_sizes)
    if not step_sizes or any(not np.isfinite(size) or size < 0 for size in step_sizes):
        raise ValueError(f"step_sizes must be numbers >= 0, at least one; got {step_sizes}.")
    trainable = {v.path: keras.ops.convert_to_numpy(v.value) for v in model.trainable_variables}
    state = [keras.ops.convert_to_numpy(v.value) for v in model.non_trainable_variables]
    loss = keras.losses.SparseCategoricalCrossentropy()

    def restore_state() -> None:
        for variable, value in zip(model.non_trainable_variables, state):
            variable.assign(value)

    restore_state()
    start = gradients(model, x, y, training=True)
    norm = np.sqrt(sum(np.sum(gradient ** 2) for gradient in start.values()))
    rows = []
    for size in step_sizes:
        for variable in model.trainable_variables:
            variable.assign(trainable[variable.path] - size * start[variable.path])
        restore_state()
        there = gradients(model, x, y, training=True)
        restore_state()
        value = float(keras.ops.convert_to_numpy(loss(y, model(x, training=True))))
        change = np.sqrt(sum(np.sum((there[path] - start[path]) ** 2) for path in start))
        rows.append({"step size": size, "loss": value, "gradient change": float(change),
                     "effective beta": float(change / (size * norm)) if size else 0.0})
    for variable in model.trainable_variables:
        variable.assign(trainable[variable.path])
    restore_state()
    return pd.DataFrame(rows)


def smoothness_runs(train: tuple, learning_rate: float, seeds: Iterable[int], step_sizes: Iterable[float],
                    steps: int = 60, every: int = 15, batch_size: int = 32, probe: int = 256,
                    progress: Callable[[str], None] = print,
                    models: Iterable[str] = (WITH_BATCHNORM, WITHOUT_BATCHNORM)) -> pd.DataFrame:
    """How much the loss and its gradient change along the gradient, every `every` steps of plain SGD.

    Each model trains as in `learning_rate_sweep` (same starts, same batches, at
    `learning_rate`); at step 0 and after every `every` steps `loss_along_gradient` looks
    along the gradient on the same `probe` training images, the first ones after those
    the runs train on.

    Returns:
        One row per model, seed and step measured: `model`, `seed`, `step`, `loss range`
        (the highest loss along the gradient minus the lowest), `gradient change` and
        `effective beta` (their largest values there), with `attrs` `step sizes`.
    """
    seeds, models, step_sizes = list(seeds), list(models), list(step_sizes)
    _check_models(models)
    if len(seeds) < 2:
        raise ValueError(f"Smoothness needs at least 2 seeds to show a spread, got {seeds}; pass seeds=range(3).")
    if not 0 < every <= steps:
        raise ValueError(f"every must be between 1 and steps ({steps}), got {every}.")
    images = steps * batch_size
    if len(train[0]) < images + probe:
        raise ValueError(f"{steps} steps of {batch_size} and a probe of {probe} need {images + probe} training "
                         f"images; got {len(train[0])}. Pass fewer steps or a smaller probe.")
    x_probe, y_probe = train[0][images:images + probe], train[1][images:images + probe]
    rows = []
    for name in models:
        model, start = _trainer(name)
        for seed in seeds:
            start(_initial_values(name, seed))
            model.optimizer.learning_rate.assign(learning_rate)
            for step in range(0, steps + 1, every):
                along = loss_along_gradient(model, x_probe, y_probe, step_sizes)
                rows.append({"model": name, "seed": seed, "step": step,
                             "loss range": float(along["loss"].max() - along["loss"].min()),
                             "gradient change": float(along["gradient change"].max()),
                             "effective beta": float(along["effective beta"].max())})
                if step + every <= steps:
                    chunk = slice(step * batch_size, (step + every) * batch_size)
                    model.fit(train[0][chunk], train[1][chunk], batch_size=batch_size, epochs=1, shuffle=False,
                              verbose=0)
        if progress is not None:
            progress(f"{name}: {len(seeds)} runs measured")
    table = pd.DataFrame(rows)
    table.attrs["step sizes"] = step_sizes
    return table
