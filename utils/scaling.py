"""Scale invariance: what multiplying the weights of the layer before a BatchNormalization changes."""

import keras
import numpy as np

from utils.repair import copy_model
from utils.steps import gradients


def scaled_copy(model: keras.Model, layer: str, factor: float) -> keras.Model:
    """A copy of `model` whose layer `layer` has its kernel and bias multiplied by `factor`."""
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}: a ReLU passes c * z as c * relu(z) "
                         "only for c > 0.")
    names = [candidate.name for candidate in model.layers]
    if layer not in names:
        raise ValueError(f"No layer named {layer!r} in {model.name!r}; its layers are {names}.")
    copy = copy_model(model)
    target = copy.get_layer(layer)
    if not target.weights:
        raise ValueError(f"Layer {layer!r} has no weights to scale; pick the Dense or Conv2D before a "
                         "BatchNormalization.")
    target.set_weights([weight * factor for weight in target.get_weights()])
    return copy


def scale_effect(model: keras.Model, layer: str, factor: float, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """What multiplying `layer`'s weights by `factor` changes, measured on one batch (x, y).

    Both models are copies, so `model` is left as it was.

    Returns:
        `output change, training mode` and `output change, inference mode`: the largest
        |difference| between the two models' outputs on `x`; `gradient ratio`: the norm of
        the scaled layer's kernel gradient (training mode) divided by the original's;
        `variance over epsilon`: the median over units of the batch variance that the next
        BatchNormalization normalises, divided by its epsilon. Invariance needs it large:
        BatchNormalization divides by sqrt(variance + epsilon), and only the variance scales.
    """
    names = [candidate.name for candidate in model.layers]
    after = [candidate for candidate in model.layers[names.index(layer) + 1:] if layer in names
             and isinstance(candidate, keras.layers.BatchNormalization)]
    if layer in names and not after:
        raise ValueError(f"No BatchNormalization after {layer!r} in {model.name!r}: scaling a layer changes "
                         "nothing only when a BatchNormalization normalises its output.")
    original, scaled = copy_model(model), scaled_copy(model, layer, factor)
    # The same Dropout masks in both: `get_weights` leaves the random-seed states out of a copy.
    for variable, twin in zip(original.non_trainable_variables + scaled.non_trainable_variables,
                              model.non_trainable_variables * 2):
        variable.assign(twin.value)
    change = {}
    # Inference first: a call in training mode moves each copy's moving statistics its own way.
    for training, name in ((False, "output change, inference mode"), (True, "output change, training mode")):
        outputs = [keras.ops.convert_to_numpy(candidate(x, training=training)) for candidate in (original, scaled)]
        change[name] = float(np.abs(outputs[0] - outputs[1]).max())
    kernel = original.get_layer(layer).kernel.path
    norms = [np.linalg.norm(gradients(candidate, x, y, training=True)[kernel]) for candidate in (original, scaled)]
    batchnorm = after[0]
    normalised = keras.Model(model.input, batchnorm.input)
    variance = np.var(keras.ops.convert_to_numpy(normalised(x, training=False)), axis=0)
    return {"output change, training mode": change["output change, training mode"],
            "output change, inference mode": change["output change, inference mode"],
            "gradient ratio": float(norms[1] / norms[0]),
            "variance over epsilon": float(np.median(variance) / batchnorm.epsilon)}
