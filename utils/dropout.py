"""Dropout on purpose: Monte Carlo dropout that leaves BatchNormalization alone."""

import keras
import numpy as np

from utils.compat import is_functional, nested_layers


@keras.saving.register_keras_serializable(package="utils")
class MCDropout(keras.layers.Dropout):
    """Dropout that drops units in every call, training or not.

    For Monte Carlo dropout: unlike `model(x, training=True)`, it switches
    nothing else, so BatchNormalization stays in inference mode and its moving
    statistics never change.
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def with_mc_dropout(model: keras.Model) -> keras.Model:
    """A model that shares every layer of `model` but drops units in every call.

    Each Dropout layer is replaced by an MCDropout layer of the same rate; all
    other layers are the same objects, so the weights are shared, not copied.
    """
    if not is_functional(model):
        raise ValueError(
            f"with_mc_dropout needs a Sequential or Functional model; {model.name!r} is "
            f"subclassed. Use MCDropout instead of Dropout in its layers."
        )
    if not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers):
        raise ValueError(
            f"Model {model.name!r} has no Dropout layer, so Monte Carlo dropout would "
            "give the same prediction every time. Add a Dropout layer and train again."
        )

    def swap(layer):
        if isinstance(layer, keras.layers.Dropout) and not isinstance(layer, MCDropout):
            return MCDropout.from_config(layer.get_config())
        return layer

    return keras.models.clone_model(model, clone_function=swap)


def mc_predict(model: keras.Model, x, samples: int = 20, batch_size: int = 1000) -> np.ndarray:
    """`samples` stochastic predictions of `model` for `x`, shape (samples, len(x), outputs).

    Args:
        model: a model with MCDropout layers, e.g. from `with_mc_dropout`.
        x: the inputs.
        samples: how many forward passes.
        batch_size: inputs per forward pass.
    """
    if not any(isinstance(layer, MCDropout) for layer in [model, *nested_layers(model)]):
        raise ValueError(
            f"Model {model.name!r} has no MCDropout layer: every pass would give the same "
            "prediction. Pass utils.with_mc_dropout(model) instead."
        )
    return np.stack([model.predict(x, batch_size=batch_size, verbose=0) for _ in range(samples)])


def predictive_entropy(probabilities: np.ndarray) -> np.ndarray:
    """The entropy (nats) of each example's mean predicted distribution over the samples.

    Args:
        probabilities: shape (samples, examples, classes), as from `mc_predict`.

    Returns:
        Shape (examples,): 0 for a certain prediction, log(classes) at most.
    """
    mean = probabilities.mean(axis=0)
    return -np.sum(mean * np.log(np.clip(mean, 1e-12, None)), axis=1)
