"""Transfer learning on the digits: pretrain a base on some, fine-tune on the others."""

from pathlib import Path

import keras
import numpy as np

from utils.bn import batchnorm_layers
from utils.compat import nested_layers
from utils.models import build_base, build_classifier, unfreeze
from utils.repair import recalibrate_batchnorm

FEATURES_ONLY = "feature extraction only"
CLASSIC = "classic: training=False, then unfreeze all"
KEPT_FROZEN = "unfreeze with BatchNormalization kept frozen"
WRAPPER = "inference-mode wrapper"
RECIPES = (FEATURES_ONLY, CLASSIC, KEPT_FROZEN, WRAPPER)
# fastai's default (`train_bn`): the body stays frozen, its BatchNormalization layers train.
TRAIN_BN = "frozen body, BatchNormalization trains (fastai)"
# Variants of the classic recipe that notebook 05 measures beside RECIPES (`recipes_on_sample`).
AT_DEFAULT_MOMENTUM = "classic, BatchNormalization momentum 0.99"
RECALIBRATED_AFTER = "classic, then statistics recalibrated"
RESTORED_AFTER = "classic, then pretrained statistics put back"
# The classic recipe again from the same head, with another seed for fit: the noise of training.
RESEEDED = "classic, another training seed"
# Feature extraction given the steps fine-tuning adds, at the same rate: the base stays frozen.
LONGER_HEAD = "feature extraction, as many steps more"
MATCHED_FEATURES = "feature extraction on the new digits' statistics"
MATCHED_CLASSIC = "classic, from a head on the new digits' statistics"
VARIANTS = (AT_DEFAULT_MOMENTUM, RECALIBRATED_AFTER, RESTORED_AFTER, RESEEDED, LONGER_HEAD,
            MATCHED_FEATURES, MATCHED_CLASSIC)
ABOVE_CLASSIC = "test accuracy above classic"
WEIGHTS_APART = "weights apart from classic"
# Everything notebook 05 compares over seeds (`recipe_run`), in the order it shows them.
COMPARED = (FEATURES_ONLY, LONGER_HEAD, CLASSIC, RESEEDED, AT_DEFAULT_MOMENTUM, RECALIBRATED_AFTER,
            RESTORED_AFTER, KEPT_FROZEN, WRAPPER, MATCHED_FEATURES, MATCHED_CLASSIC)
FINE_TUNING_RATE = 1e-4


def select_digits(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The examples of `classes`, relabelled 0, 1, ... in the order `classes` lists them."""
    classes = list(classes)
    missing = sorted(set(classes) - set(np.unique(y).tolist()))
    if not classes or missing:
        raise ValueError(f"select_digits: no examples of {missing or 'any class'} here; the labels present are "
                         f"{sorted(np.unique(y).tolist())}. Pass some of those, e.g. range(5).")
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

    Its weights still train when it is trainable. A `training=False` passed
    inside `call` is an explicit argument, which Keras lets win over the value
    `fit` propagates; notebook 05 measures that the statistics stay put on the
    Keras it runs on, where `fit` overrides a `training=False` written into a
    Functional graph.
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
               batch_size: int = 32, seed: int = 0, recalibrate: bool = False) -> keras.Model:
    """Feature extraction: the saved base, frozen, with a new head trained on `train`.

    The base is called as `base(inputs, training=False)`, the classic recipe,
    and is the model's layer named "base".

    Args:
        recalibrate: first set the base's moving statistics to those of the
            training inputs (`recalibrate_batchnorm`), so that the head learns on
            features normalised about as training mode will normalise them.
    """
    keras.utils.set_random_seed(seed)
    base = keras.models.load_model(base_path)
    if recalibrate:
        recalibrate_batchnorm(base, train[0])
    base.trainable = False
    model = build_classifier(base, num_classes, training=False)
    _compile(model, 1e-3)
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def fine_tune(model: keras.Model, recipe: str, train: tuple, epochs: int = 5,
              batch_size: int = 32, seed: int = 0, callbacks=(),
              momentum: float | None = None) -> keras.Model:
    """Unfreeze the base of a `train_head` model as `recipe` says, then train at a small rate.

    "feature extraction only" trains nothing; `LONGER_HEAD` trains the head alone,
    the base still frozen, for the same steps at the same rate. The wrapper recipe and `TRAIN_BN`
    (the body frozen but its BatchNormalization layers, called without
    `training=`) train a new model around the same base and head, returned
    instead of `model`.

    Args:
        momentum: if given, the base's BatchNormalization layers use it from now
            on, instead of the 0.9 they were built with.

    Returns:
        The model that was fine-tuned, ready to evaluate.
    """
    known = RECIPES + (TRAIN_BN, LONGER_HEAD)
    if recipe not in known:
        raise ValueError(f"Unknown recipe {recipe!r}; the recipes are {list(known)}.")
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
    elif recipe == LONGER_HEAD:
        base.trainable = False  # as train_head left it, whatever ran on this model since
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


def variance_change(model: keras.Model, before: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """How far the moving variances moved since `before`: |log(now / then)| per channel, averaged; 0 if none moved."""
    changes = [np.abs(np.log(layer.moving_variance.numpy() / before[layer.name][1]))
               for layer in batchnorm_layers(model)]
    return float(np.mean(np.concatenate(changes)))


class LayerRates(keras.optimizers.Adam):
    """Adam with a learning rate of their own for some variables: fastai's discriminative learning rates.

    `learning_rate` is the rate of every variable not listed; each variable of
    `slow_variables` trains at `learning_rate * factor`.
    """

    def __init__(self, learning_rate: float, slow_variables, factor: float, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._slow = {id(variable) for variable in slow_variables}
        self.factor = factor

    def build(self, variables):
        super().build(variables)
        # By position, the index the optimizer itself gives each variable in update_step.
        self._factors = [self.factor if id(variable) in self._slow else 1.0 for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factors[self._get_variable_index(variable)]
        return super().update_step(gradient, variable, learning_rate * factor)


# fastai's Learner.fine_tune defaults (fastai/callback/schedule.py): the second stage
# runs at half the first stage's rate, the body at 1/lr_mult of that; in the first,
# a frozen group's BatchNormalization trains at a tenth of the rate (Optimizer.set_hyper).
FASTAI_LR_MULT = 100
FASTAI_FROZEN_FACTOR = 0.1
# The first stage's rate: train_head's.
FASTAI_RATE = 1e-3


def fastai_stage(model: keras.Model, base: keras.Model, train: tuple, learning_rate: float, factor: float,
                  epochs: int, batch_size: int) -> None:
    """Compile `model` with the base's variables at `factor` times `learning_rate`, and train it."""
    # Compile again after changing trainable: fit may not see the change otherwise.
    model.compile(optimizer=LayerRates(learning_rate, base.trainable_variables, factor),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)


def fastai_fine_tune(base_path: Path, train: tuple, num_classes: int, train_bn: bool = True,
                     head_epochs: int = 20, epochs: int = 5, learning_rate: float = FASTAI_RATE,
                     batch_size: int = 32, seed: int = 0, after_stage_one=None) -> keras.Model:
    """fastai's `fine_tune` schedule on the saved base, at constant learning rates.

    Stage 1 (`head_epochs`): the body frozen and the head trained at `learning_rate`;
    with `train_bn`, the body's BatchNormalization layers train too (gamma and beta
    at a tenth of the rate, as fastai's frozen groups; statistics in training mode).
    Stage 2 (`epochs`): everything trains, the head at half of `learning_rate`, the
    body at 1/100 of that. Without `train_bn`, BatchNormalization stays frozen in
    both stages (inference mode, gamma and beta fixed), and stage 1 is `train_head`.

    Args:
        after_stage_one: called with the model between the stages, to measure it.

    Returns:
        The model after stage 2; its base is its layer named "base".
    """
    keras.utils.set_random_seed(seed)  # where train_head sets it, so stage 1 draws alike
    base = keras.models.load_model(base_path)
    base.trainable = True
    for layer in nested_layers(base):
        layer.trainable = train_bn and isinstance(layer, keras.layers.BatchNormalization)
    # Called without training=, so that fit runs the BatchNormalization layers that train in training mode.
    model = build_classifier(base, num_classes)
    fastai_stage(model, base, train, learning_rate, FASTAI_FROZEN_FACTOR, head_epochs, batch_size)
    if after_stage_one is not None:
        after_stage_one(model)
    unfreeze(base, keep_batchnorm_frozen=not train_bn)
    keras.utils.set_random_seed(seed)  # where fine_tune sets it
    fastai_stage(model, base, train, learning_rate / 2, 1 / FASTAI_LR_MULT, epochs, batch_size)
    return model


def inference_accuracy(model: keras.Model, data: tuple, batch_size: int = 500) -> float:
    """The share of `data` that `model` classifies right, in inference mode.

    A plain call rather than `evaluate`, which would build a new test function
    after every `compile`.
    """
    x, y = data
    predicted = np.concatenate([keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False))
                                for start in range(0, len(x), batch_size)]).argmax(axis=1)
    return float(np.mean(predicted == y))


