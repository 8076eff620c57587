"""What one training step changes, layer by layer, for given `trainable` flags and `training`."""

import keras
import numpy as np
import pandas as pd

from utils.arithmetic import batchnorm_reference
from utils.data import off_centre_batch
from utils.steps import training_step

FLAG_LAYERS = ("dense", "dropout", "batchnorm", "output")


def flags_model() -> keras.Model:
    """Dense, Dropout, BatchNormalization, Dense: every kind of layer the flags act on."""
    inputs = keras.Input((8,), name="x")
    x = keras.layers.Dense(16, activation="relu", name="dense")(inputs)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    x = keras.layers.BatchNormalization(name="batchnorm")(x)
    outputs = keras.layers.Dense(1, name="output")(x)
    return keras.Model(inputs, outputs, name="flags")


def _squared_error(y, outputs):
    """The mean squared error of the last output, the prediction."""
    return keras.ops.mean((outputs[-1] - y) ** 2)


def one_step(trainable: dict[str, bool], training: bool | None,
             seed: int = 0) -> tuple[pd.DataFrame, bool]:
    """Run one hand-written training step of `flags_model()` and report what it changed, per layer.

    The step is the one a custom training loop writes: the loss of
    `model(x, training=training)` under a GradientTape, and an SGD update of
    `model.trainable_weights` (`fit` runs such a step with `training=True` and
    its compiled optimizer).

    Args:
        trainable: layer name -> its `trainable` flag (layers left out stay trainable).
        training: the value the model is called with in the step.
        seed: for the weights, the data and Dropout's mask.

    Returns:
        A table with one row per layer: `trainable`, `weights changed` (kernel,
        bias, gamma, beta), `moving statistics changed` (BatchNormalization),
        `ran in` ("training mode" or "inference mode", for Dropout and
        BatchNormalization); and whether the model's inference output moved.
    """
    unknown = sorted(set(trainable) - set(FLAG_LAYERS))
    if unknown:
        raise ValueError(f"No layer named {unknown}; the layers are {list(FLAG_LAYERS)}.")
    keras.utils.set_random_seed(seed)
    model = flags_model()
    for name, flag in trainable.items():
        model.get_layer(name).trainable = flag
    x, y = off_centre_batch(64, 8, mean=2.0, seed=seed)
    # The same model with every layer's output exposed, to see what each layer did.
    taps = keras.Model(model.input, [model.get_layer(name).output for name in FLAG_LAYERS])
    before = {name: model.get_layer(name).get_weights() for name in FLAG_LAYERS}
    output_before = keras.ops.convert_to_numpy(model(x, training=False))
    bn = model.get_layer("batchnorm")
    step = training_step(taps, keras.optimizers.SGD(0.1), _squared_error, training, compiled=False)
    dense, dropout, normalised, _ = (keras.ops.convert_to_numpy(t) for t in step(x, y))
    # What BatchNormalization gives in inference mode, with its weights from before the step.
    inference = batchnorm_reference(dropout, *before["batchnorm"], bn.epsilon)
    ran = {
        "dropout": not np.allclose(dropout, dense),
        "batchnorm": not np.allclose(normalised, inference, atol=1e-5),
    }
    rows = []
    for name in FLAG_LAYERS:
        layer = model.get_layer(name)
        now = layer.get_weights()
        changed = [not np.array_equal(a, b) for a, b in zip(before[name], now)]
        is_bn = name == "batchnorm"
        rows.append({
            "layer": name,
            "trainable": layer.trainable,
            "weights changed": any(changed[:2]),
            "moving statistics changed": any(changed[2:]) if is_bn else "-",
            "ran in": (("training mode" if ran[name] else "inference mode")
                       if name in ran else "-"),
        })
    output_after = keras.ops.convert_to_numpy(model(x, training=False))
    return pd.DataFrame(rows).set_index("layer"), not np.array_equal(output_before, output_after)


# The settings of the static table: who is frozen, crossed with the call's `training`.
FREEZES = {
    "nothing frozen": {},
    "Dense layers frozen": {"dense": False, "output": False},
    "BatchNormalization frozen": {"batchnorm": False},
    "everything frozen": {name: False for name in FLAG_LAYERS},
}


def effects_table() -> pd.DataFrame:
    """What one training step changes, for every setting in `FREEZES` and every `training`."""
    rows = []
    for frozen, trainable in FREEZES.items():
        for training in (None, True, False):
            layers, output_changed = one_step(trainable, training)
            rows.append({
                "frozen": frozen,
                "training": str(training),
                "Dense weights changed": bool(layers.loc["dense", "weights changed"]),
                "Dropout ran in": layers.loc["dropout", "ran in"],
                "BN ran in": layers.loc["batchnorm", "ran in"],
                "BN moving statistics changed": bool(layers.loc["batchnorm", "moving statistics changed"]),
                "output changed": output_changed,
            })
    return pd.DataFrame(rows).set_index(["frozen", "training"])


STILL_CHANGES, STAYS_FROZEN = "still changes", "stays frozen"
# Freezing a layer after `compile`, in the three orders notebooks 04 and 12 compare.
AFTER_COMPILE = {
    "freeze, fit (no fit before)": dict(fit_before=False, compile_again=False),
    "fit, freeze, fit": dict(fit_before=True, compile_again=False),
    "fit, freeze, compile, fit": dict(fit_before=True, compile_again=True),
}


def next_fit_after_freezing(fit_before: bool, compile_again: bool) -> str:
    """Freeze a Dense layer after `compile`; what does the next `fit` do to it?

    Args:
        fit_before: train once before freezing (the model's step is then built).
        compile_again: call `compile()` after freezing, as the Keras guides say.

    Returns:
        `STILL_CHANGES` (its weights change all the same), `STAYS_FROZEN`, or, where
        `fit` refuses to run (the JAX backend), "fit raises" and the error's name.
    """
    keras.utils.set_random_seed(0)
    x, y = off_centre_batch(64, 8, mean=2.0)
    model = flags_model()
    model.compile(optimizer="sgd", loss="mse")
    if fit_before:
        model.fit(x, y, verbose=0)
    dense = model.get_layer("dense")
    dense.trainable = False
    if compile_again:
        model.compile(optimizer="sgd", loss="mse")
    before = dense.get_weights()
    try:
        model.fit(x, y, verbose=0)
    except ValueError as error:
        return f"fit raises {type(error).__name__}"
    changed = any(not np.array_equal(a, b) for a, b in zip(before, dense.get_weights()))
    return STILL_CHANGES if changed else STAYS_FROZEN


def next_fit_outcomes() -> dict[str, str]:
    """`next_fit_after_freezing` in each situation of `AFTER_COMPILE`, by its name."""
    return {name: next_fit_after_freezing(**arguments) for name, arguments in AFTER_COMPILE.items()}
