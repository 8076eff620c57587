"""BatchNormalization by hand, and a callback that records what it normalised with."""

import contextlib
from collections.abc import Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

from utils.arithmetic import batchnorm_state, mean_shift
from utils.compat import fit_state, nested_layers
from utils.inputs import check_examples

_concatenate = tf.concat if keras.backend.backend() == "tensorflow" else keras.ops.concatenate


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of `model`, nested models included, in order."""
    return [layer for layer in nested_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def moving_statistics(model: keras.Model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every BatchNormalization layer's (moving mean, moving variance), by layer name."""
    states = {layer.name: batchnorm_state(layer) for layer in batchnorm_layers(model)}
    return {name: (state["moving_mean"], state["moving_variance"]) for name, state in states.items()}


def moved_layers(model: keras.Model, before: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """The BatchNormalization layers whose moving statistics changed since `before`.

    Args:
        model: the model now.
        before: `moving_statistics` of the same model, taken earlier.
    """
    return [name for name, now in moving_statistics(model).items()
            if not all(np.array_equal(a, b) for a, b in zip(before[name], now))]


def statistics_shift(model: keras.Model, before: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """How far the moving means moved since `before`, in standard deviations of then.

    Args:
        model: the model now.
        before: `moving_statistics` of the same model, taken earlier.

    Returns:
        `mean_shift` of each channel of every BatchNormalization layer, averaged;
        0 when nothing moved.
    """
    shifts = [mean_shift(layer.moving_mean, *before[layer.name], layer.epsilon)
              for layer in batchnorm_layers(model)]
    return float(np.mean(np.concatenate(shifts)))


@contextlib.contextmanager
def keep_moving_statistics(model: keras.Model) -> Iterator[None]:
    """Restore every BatchNormalization layer's moving statistics on leaving the block.

    Calling a model with `training=True` updates them; inside this block it can
    be done to look, without changing the model.
    """
    saved = moving_statistics(model)
    try:
        yield
    finally:
        for layer in batchnorm_layers(model):
            layer.moving_mean.assign(saved[layer.name][0])
            layer.moving_variance.assign(saved[layer.name][1])


def compare_modes(model: keras.Model, x, y, batch_size: int = 32) -> dict[str, float]:
    """Accuracy and cross-entropy of `model` on (x, y) in inference mode and in training mode.

    In training mode each batch of `batch_size` images is normalised with its
    own statistics (and Dropout drops); the moving statistics are restored.

    Returns:
        `inference_accuracy`, `training_accuracy`, `disagreement` (the share of
        examples whose predicted class differs between the two modes),
        `inference_loss` and `training_loss` (mean cross-entropy, without
        regularization terms).
    """
    check_examples("compare_modes", x, y)
    # In inference mode each example is on its own: chunks only bound the memory.
    inference = np.concatenate([
        keras.ops.convert_to_numpy(model(x[i:i + 500], training=False))
        for i in range(0, len(x), 500)
    ])
    with keep_moving_statistics(model):
        training = np.concatenate([
            keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=True))
            for i in range(0, len(x), batch_size)
        ])

    def loss(probabilities):
        return float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probabilities)))

    return dict(
        inference_accuracy=float(np.mean(inference.argmax(axis=1) == y)),
        training_accuracy=float(np.mean(training.argmax(axis=1) == y)),
        disagreement=float(np.mean(inference.argmax(axis=1) != training.argmax(axis=1))),
        inference_loss=loss(inference),
        training_loss=loss(training),
    )


class BatchNormRecorder(keras.callbacks.Callback):
    """Record, per training batch, the statistics each BatchNormalization layer used.

    The batch mean and variance are recovered from two consecutive snapshots of
    the moving statistics, `batch = (after - momentum * before) / (1 - momentum)`,
    which is exact up to float32 rounding. Snapshots are taken when a batch
    begins, never when it ends, so Keras keeps handling the logs of each step in
    the background and recording costs two small reads per layer and batch.

    After `fit`, `history[layer_name]` holds `batch_mean`, `batch_variance`,
    `moving_mean` and `moving_variance`, each an array of shape (steps, channels);
    `moving_*` are the statistics after each step.

    Under a `tf.distribute` strategy it records what the model reads: the global batch
    statistics when BatchNormalization is `synchronized`, otherwise the first replica's
    (each replica keeps its own; notebook 12 measures it).

    Args:
        layers: names of the BatchNormalization layers to record; all by default.
    """

    def __init__(self, layers: Iterable[str] | None = None):
        super().__init__()
        self.layer_names = None if layers is None else list(layers)
        self.history: dict[str, dict[str, np.ndarray]] = {}
        self._layers: dict[str, keras.layers.BatchNormalization] = {}

    def _chosen_layers(self) -> list[keras.layers.BatchNormalization]:
        found = batchnorm_layers(self.model)
        if not found:
            raise ValueError(
                f"Model {self.model.name!r} has no BatchNormalization layer, so there is "
                "nothing to record. Add one, or drop BatchNormRecorder from the callbacks."
            )
        by_name = {layer.name: layer for layer in found}
        if self.layer_names is None:
            return found
        unknown = [name for name in self.layer_names if name not in by_name]
        if unknown:
            raise ValueError(
                f"No BatchNormalization layer named {unknown} in {self.model.name!r}; "
                f"the known ones are {list(by_name)}."
            )
        return [by_name[name] for name in self.layer_names]

    def on_train_begin(self, logs=None):
        steps = getattr(self.model, "steps_per_execution", 1)
        if steps != 1:
            raise ValueError(
                f"BatchNormRecorder needs steps_per_execution=1 (the model was compiled "
                f"with {steps}): it recovers each batch's statistics from one update of "
                "the moving statistics. Compile again with steps_per_execution=1."
            )
        self._layers = {layer.name: layer for layer in self._chosen_layers()}
        frozen = [name for name, layer in self._layers.items() if not layer.trainable]
        if frozen:
            raise ValueError(
                f"BatchNormalization layers {frozen} are frozen (trainable=False): they run "
                "in inference mode, use the moving statistics and never update them, so "
                "there are no batch statistics to record. Record other layers, or unfreeze these."
            )
        self.history = {}
        # Each layer's moving mean, then its moving variance, side by side in one row.
        self._variables = [variable for layer in self._layers.values()
                           for variable in (layer.moving_mean, layer.moving_variance)]
        # Where they are in the state `fit` carries on JAX.
        state = self.model.non_trainable_variables
        self._positions = [next(i for i, v in enumerate(state) if v is variable) for variable in self._variables]
        self._columns, start = {}, 0
        for name, layer in self._layers.items():
            channels = layer.moving_mean.shape[0]
            self._columns[name] = (slice(start, start + channels),
                                   slice(start + channels, start + 2 * channels))
            start += 2 * channels
        self._snapshots = []
        self._rows = np.empty((0, start), "float32")

    def on_train_batch_begin(self, batch, logs=None):
        self._snapshot()
        if len(self._snapshots) == 2:
            self._check_updated()

    def on_train_end(self, logs=None):
        self._snapshot()
        self.history = {name: self.statistics(name) for name in self._layers}

    def _snapshot(self) -> None:
        in_flight = fit_state(self.model)
        values = ([variable.value for variable in self._variables] if in_flight is None
                  else [in_flight[i] for i in self._positions])
        # One operation for all layers, and on TensorFlow its own (keras.ops adds a
        # conversion layer): while `fit` runs, each eager operation here costs
        # about 0.15 ms, against 9 ms for a training step of the seed model.
        self._snapshots.append(_concatenate(values, axis=0))

    def _recorded_rows(self) -> np.ndarray:
        """Every snapshot so far as one array, converting only the new ones."""
        new = self._snapshots[len(self._rows):]
        if new:
            # Each tensor on its own: a stacking operation costs five times as much.
            self._rows = np.concatenate([self._rows, np.stack([np.asarray(row) for row in new])])
        return self._rows

    def _check_updated(self) -> None:
        """Raise if a layer's first training step left its moving statistics untouched."""
        before, after = self._recorded_rows()[:2]
        still = [name for name, (mean, variance) in self._columns.items()
                 if np.array_equal(before[mean], after[mean])
                 and np.array_equal(before[variance], after[variance])]
        if still:
            raise ValueError(
                f"BatchNormalization layers {still} did not update their moving statistics "
                "in a training step: they ran in inference mode (e.g. called with "
                "training=False while the model was built, which this Keras keeps), so "
                "there are no batch statistics to record. Record other layers, or build "
                "the model without training=False."
            )

    def statistics(self, layer_name: str) -> dict[str, np.ndarray]:
        """The statistics of `layer_name` for the steps recorded so far (also during `fit`)."""
        if layer_name not in self._layers:
            raise ValueError(
                f"No recorded BatchNormalization layer named {layer_name!r}; "
                f"the recorded ones are {list(self._layers)}."
            )
        rows = self._recorded_rows()
        mean_columns, variance_columns = self._columns[layer_name]
        mean, variance = rows[:, mean_columns], rows[:, variance_columns]
        momentum = self._layers[layer_name].momentum
        return dict(
            batch_mean=(mean[1:] - momentum * mean[:-1]) / (1 - momentum),
            batch_variance=(variance[1:] - momentum * variance[:-1]) / (1 - momentum),
            moving_mean=mean[1:],
            moving_variance=variance[1:],
        )

    def gap(self, layer_name: str, statistic: str = "mean") -> np.ndarray:
        """Per step, |batch - moving| `statistic` of `layer_name`, averaged over channels."""
        return mean_gap(self.statistics(layer_name), statistic)


def mean_gap(record: dict[str, np.ndarray], statistic: str = "mean") -> np.ndarray:
    """Per step, the mean absolute gap between the batch and the moving `statistic`.

    Args:
        record: one layer's statistics, as in `BatchNormRecorder.history`.
        statistic: "mean" or "variance".

    Returns:
        One value per step: |batch - moving| averaged over the channels.
    """
    if statistic not in ("mean", "variance"):
        raise ValueError(f'statistic must be "mean" or "variance"; got {statistic!r}.')
    return np.abs(record[f"batch_{statistic}"] - record[f"moving_{statistic}"]).mean(axis=1)
