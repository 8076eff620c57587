"""BatchNormalization by hand, and a callback that records what it normalised with."""

from collections.abc import Iterable

import keras
import numpy as np


def batchnorm_reference(x, gamma, beta, mean, variance, epsilon: float = 1e-3) -> np.ndarray:
    """BatchNormalization's formula in NumPy: `gamma * (x - mean) / sqrt(variance + epsilon) + beta`."""
    return gamma * (np.asarray(x) - mean) / np.sqrt(variance + epsilon) + beta


def batch_statistics(x) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance (divided by N) over every axis but the last, as BN computes them."""
    x = np.asarray(x, dtype="float64")
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes), x.var(axis=axes)


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of `model`, nested models included, in order."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


class BatchNormRecorder(keras.callbacks.Callback):
    """Record, per training batch, the statistics each BatchNormalization layer used.

    The batch mean and variance are recovered from two consecutive snapshots of
    the moving statistics, `batch = (after - momentum * before) / (1 - momentum)`,
    which is exact up to float32 rounding and costs two small reads per batch.

    After `fit`, `history[layer_name]` holds `batch_mean`, `batch_variance`,
    `moving_mean` and `moving_variance`, each an array of shape (steps, channels).

    Args:
        layers: names of the BatchNormalization layers to record; all by default.
    """

    def __init__(self, layers: Iterable[str] | None = None):
        super().__init__()
        self.layer_names = None if layers is None else list(layers)
        self.history: dict[str, dict[str, np.ndarray]] = {}

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
        self._layers = self._chosen_layers()
        frozen = [layer.name for layer in self._layers if not layer.trainable]
        if frozen:
            raise ValueError(
                f"BatchNormalization layers {frozen} are frozen (trainable=False): they run "
                "in inference mode, use the moving statistics and never update them, so "
                "there are no batch statistics to record. Record other layers, or unfreeze these."
            )
        self._before = {layer.name: self._moving(layer) for layer in self._layers}
        self._rows = {layer.name: [] for layer in self._layers}

    @staticmethod
    def _moving(layer) -> tuple[np.ndarray, np.ndarray]:
        return (keras.ops.convert_to_numpy(layer.moving_mean),
                keras.ops.convert_to_numpy(layer.moving_variance))

    def on_train_batch_end(self, batch, logs=None):
        for layer in self._layers:
            mean, variance = self._moving(layer)
            before_mean, before_variance = self._before[layer.name]
            m = layer.momentum
            self._rows[layer.name].append((
                (mean - m * before_mean) / (1 - m),
                (variance - m * before_variance) / (1 - m),
                mean,
                variance,
            ))
            self._before[layer.name] = (mean, variance)

    def on_train_end(self, logs=None):
        keys = ("batch_mean", "batch_variance", "moving_mean", "moving_variance")
        for name, rows in self._rows.items():
            columns = zip(*rows) if rows else [[] for _ in keys]
            self.history[name] = {key: np.array(list(column)) for key, column in zip(keys, columns)}

    def gap(self, layer_name: str) -> np.ndarray:
        """Per step, the mean absolute gap between batch and moving mean, over channels."""
        record = self.history[layer_name]
        return np.abs(record["batch_mean"] - record["moving_mean"]).mean(axis=1)
