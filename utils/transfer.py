"""Transfer learning on the digits: pretrain a base on some, fine-tune on the others."""

from pathlib import Path

import IPython
import keras
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from utils.bn import batchnorm_layers, moving_statistics, statistics_shift
from utils.compat import nested_layers
from utils.models import build_base, build_classifier, unfreeze

FEATURES_ONLY = "feature extraction only"
CLASSIC = "classic: training=False, then unfreeze all"
KEPT_FROZEN = "unfreeze with BatchNormalization kept frozen"
WRAPPER = "inference-mode wrapper"
RECIPES = (FEATURES_ONLY, CLASSIC, KEPT_FROZEN, WRAPPER)
# fastai's default (`train_bn`): the body stays frozen, its BatchNormalization layers train.
TRAIN_BN = "frozen body, BatchNormalization trains (fastai)"
FINE_TUNING_RATE = 1e-4


def select_digits(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The examples of `classes`, relabelled 0, 1, ... in the order `classes` lists them."""
    classes = list(classes)
    keep = np.isin(y, classes)
    lookup = np.full(max(classes) + 1, -1)
    lookup[classes] = np.arange(len(classes))
    return x[keep], lookup[y[keep]].astype(y.dtype)


def sample(data: tuple[np.ndarray, np.ndarray], size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` examples of `data` drawn at random without replacement, the same for the same seed."""
    x, y = data
    if not 0 < size <= len(x):
        raise ValueError(f"Cannot draw {size} examples from {len(x)}; pass a size from 1 to {len(x)}.")
    chosen = np.random.default_rng(seed).permutation(len(x))[:size]
    return x[chosen], y[chosen]


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


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def pretrain(train: tuple, num_classes: int, path: Path, epochs: int = 3, seed: int = 0) -> keras.Model:
    """Train `build_base()` with a head on `train` and save the base to `path`.

    Returns:
        The trained classifier (base and head), to evaluate on the pretraining task.
    """
    keras.utils.set_random_seed(seed)
    base = build_base()
    model = build_classifier(base, num_classes)
    _compile(model, 1e-3)
    model.fit(*train, batch_size=32, epochs=epochs, verbose=0)
    base.save(path)
    return model


def train_head(base_path: Path, train: tuple, num_classes: int, epochs: int = 20,
               batch_size: int = 32, seed: int = 0) -> keras.Model:
    """Feature extraction: the saved base, frozen, with a new head trained on `train`.

    The base is called as `base(inputs, training=False)`, the classic recipe,
    and is the model's layer named "base".
    """
    keras.utils.set_random_seed(seed)
    base = keras.models.load_model(base_path)
    base.trainable = False
    model = build_classifier(base, num_classes, training=False)
    _compile(model, 1e-3)
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def fine_tune(model: keras.Model, recipe: str, train: tuple, epochs: int = 5,
              batch_size: int = 32, seed: int = 0, callbacks=(),
              momentum: float | None = None) -> keras.Model:
    """Unfreeze the base of a `train_head` model as `recipe` says, then train at a small rate.

    "feature extraction only" trains nothing. The wrapper recipe and `TRAIN_BN`
    (the body frozen but its BatchNormalization layers, called without
    `training=`) train a new model around the same base and head, returned
    instead of `model`.

    Args:
        momentum: if given, the base's BatchNormalization layers use it from now
            on, instead of the 0.9 they were built with.

    Returns:
        The model that was fine-tuned, ready to evaluate.
    """
    if recipe not in RECIPES + (TRAIN_BN,):
        raise ValueError(f"Unknown recipe {recipe!r}; the recipes are {list(RECIPES + (TRAIN_BN,))}.")
    if recipe == FEATURES_ONLY:
        return model
    base = model.get_layer("base")
    if momentum is not None:
        for layer in batchnorm_layers(base):
            layer.momentum = momentum
    if recipe == TRAIN_BN:
        base.trainable = True
        for layer in nested_layers(base):
            layer.trainable = isinstance(layer, keras.layers.BatchNormalization)
        # Called without training=: the BatchNormalization layers must run in training mode.
        inputs = keras.Input(base.input_shape[1:], name="image")
        model = keras.Model(inputs, model.get_layer("head")(base(inputs)), name="bn_trains")
    else:
        unfreeze(base, keep_batchnorm_frozen=recipe == KEPT_FROZEN)
    if recipe == WRAPPER:
        inputs = keras.Input(base.input_shape[1:], name="image")
        features = InferenceMode(base, name="inference_mode")(inputs)
        model = keras.Model(inputs, model.get_layer("head")(features), name="wrapped")
    keras.utils.set_random_seed(seed)
    # Compile again after changing trainable: fit may not see the change otherwise.
    _compile(model, FINE_TUNING_RATE)
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def scale_and_offset(model: keras.Model) -> list[np.ndarray]:
    """Every BatchNormalization layer's gamma and beta, in order: the weights BN trains."""
    return [value for layer in batchnorm_layers(model) for value in (layer.gamma.numpy(), layer.beta.numpy())]


def scale_and_offset_change(model: keras.Model, before: list[np.ndarray]) -> float:
    """The largest change of any BatchNormalization gamma or beta of `model` since `before`.

    Args:
        model: the model now.
        before: `scale_and_offset` of the same model, taken earlier.
    """
    return float(max(np.abs(now - then).max() for now, then in zip(scale_and_offset(model), before)))


class _Progress:
    """One status line, updated in place in a notebook, silent elsewhere."""

    def __init__(self):
        self._handle = None
        if IPython.get_ipython() is not None:
            self._handle = display(Markdown(""), display_id=True)

    def show(self, text: str) -> None:
        if self._handle is not None:
            self._handle.update(Markdown(text))


def compare_recipes(base_path: Path, pool: tuple, test: tuple, num_classes: int,
                    examples: int = 200, seeds=(0, 1, 2), head_epochs: int = 20,
                    epochs: int = 5, batch_size: int = 32, recipes=RECIPES) -> pd.DataFrame:
    """Fine-tune the saved base with each of `recipes`, on a few samples of `pool`.

    For each seed: draw `examples` training examples from `pool`, train a head
    once (`train_head`), then start every recipe from that same model.

    Returns:
        One row per seed and recipe: `seed`, `recipe`, `test accuracy`
        (inference mode, on `test`), `shift` (`statistics_shift` of the base
        since pretraining) and `gamma/beta change` (`scale_and_offset_change`
        of the base since the head was trained).
    """
    progress = _Progress()
    rows = []
    for done, seed in enumerate(seeds):
        progress.show(f"Fine-tuning: sample {done + 1} of {len(seeds)}...")
        train = sample(pool, examples, seed)
        model = train_head(base_path, train, num_classes, head_epochs, batch_size, seed)
        base = model.get_layer("base")
        start = model.get_weights()
        pretrained = moving_statistics(base)
        scales = scale_and_offset(base)
        for recipe in recipes:
            model.set_weights(start)
            tuned = fine_tune(model, recipe, train, epochs, batch_size, seed)
            _, accuracy = tuned.evaluate(*test, verbose=0)
            rows.append({"seed": seed, "recipe": recipe, "test accuracy": float(accuracy),
                         "shift": statistics_shift(base, pretrained),
                         "gamma/beta change": scale_and_offset_change(base, scales)})
    progress.show(f"Fine-tuning: {len(rows)} runs done ({len(seeds)} samples x {len(recipes)} recipes).")
    return pd.DataFrame(rows)


def compare_schools(recipes=(FEATURES_ONLY, TRAIN_BN, KEPT_FROZEN), seeds=(0, 1, 2)) -> list[dict]:
    """Notebook 04's transfer task from scratch: pretrain on digits 0-4, then `compare_recipes` on 5-9.

    Everything in one call with plain arguments, so that it can run in a process of its own.

    Returns:
        The rows of `compare_recipes`.
    """
    import tempfile

    from utils.data import load_mnist_subset

    (x, y), (x_test, y_test) = load_mnist_subset()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "base.keras"
        pretrain(select_digits(x, y, range(5)), num_classes=5, path=path, epochs=3)
        table = compare_recipes(path, select_digits(x, y, range(5, 10)),
                                select_digits(x_test, y_test, range(5, 10)), num_classes=5,
                                seeds=tuple(seeds), recipes=tuple(recipes))
    return table.to_dict("records")
