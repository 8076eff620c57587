"""Transfer learning on the digits: pretrain a base on some, fine-tune on the others."""

from pathlib import Path

import keras
import numpy as np

from utils.bn import batchnorm_layers
from utils.models import build_base, build_classifier, unfreeze

RECIPES = ("feature extraction only", "classic: training=False, then unfreeze all",
           "unfreeze with BatchNormalization kept frozen", "inference-mode wrapper")


def select_digits(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The examples of `classes`, relabelled 0, 1, ... in the order `classes` lists them."""
    classes = list(classes)
    keep = np.isin(y, classes)
    lookup = np.full(max(classes) + 1, -1)
    lookup[classes] = np.arange(len(classes))
    return x[keep], lookup[y[keep]].astype(y.dtype)


class InferenceMode(keras.layers.Layer):
    """Calls `base` in inference mode, always: its BatchNormalization never updates.

    Its weights still train when it is trainable. Unlike `base(inputs,
    training=False)` written into a Functional graph, a `training=False` passed
    inside `call` is never overridden by `fit`, on any Keras version.
    """

    def __init__(self, base: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.base = base

    def call(self, inputs):
        return self.base(inputs, training=False)


def pretrain(train: tuple, num_classes: int, path: Path, epochs: int = 3) -> float:
    """Train `build_base()` with a head on `train`, save the base to `path`; return train accuracy."""
    base = build_base()
    model = build_classifier(base, num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    base.save(path)
    return float(history.history["accuracy"][-1])


def moving_statistics(model: keras.Model) -> dict[str, np.ndarray]:
    """Every BatchNormalization layer's moving mean and variance, by variable path."""
    return {variable.path: variable.numpy() for layer in batchnorm_layers(model)
            for variable in (layer.moving_mean, layer.moving_variance)}


def fine_tune(recipe: str, base_path: Path, train: tuple, test: tuple, num_classes: int,
              epochs: int = 2) -> dict:
    """Transfer the saved base to `train` with `recipe`; measure accuracy and drift.

    Every recipe first trains a new head on the frozen base (feature extraction),
    then, except "feature extraction only", unfreezes and trains again with a
    small learning rate, compiling again after changing `trainable`.

    Returns:
        `recipe`, `test accuracy` (inference mode), and `drift`: the largest
        relative change of any moving statistic of the base since pretraining.
    """
    if recipe not in RECIPES:
        raise ValueError(f"Unknown recipe {recipe!r}; the recipes are {list(RECIPES)}.")
    keras.utils.set_random_seed(0)
    base = keras.models.load_model(base_path)
    pretrained = moving_statistics(base)
    base.trainable = False
    if recipe == "inference-mode wrapper":
        inputs = keras.Input(base.input_shape[1:])
        features = InferenceMode(base, name="inference_mode")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax",
                                                       name="head")(features))
    else:
        model = build_classifier(base, num_classes, training=False)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    if recipe != "feature extraction only":
        if recipe == "unfreeze with BatchNormalization kept frozen":
            unfreeze(base)
        else:
            base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-4),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    after = moving_statistics(base)
    drift = max(float(np.max(np.abs(after[key] - value) / (np.abs(value) + 1e-3)))
                for key, value in pretrained.items())
    _, accuracy = model.evaluate(*test, verbose=0)
    return {"recipe": recipe, "test accuracy": float(accuracy), "drift": drift}
