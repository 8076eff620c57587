"""Repairing BatchNormalization after training: exact statistics, and folding it away."""

from collections.abc import Callable, Sequence

import keras
import numpy as np

from utils.arithmetic import mean_shift
from utils.bn import batchnorm_layers
from utils.calibration import expected_calibration_error
from utils.compat import functional_graph, input_in, is_functional, nested_layers
from utils.inputs import check_examples, check_input_shape


@keras.saving.register_keras_serializable(package="training_lab")
class FoldedAway(keras.layers.Layer):
    """Stands where a BatchNormalization layer was, once folded into a neighbour: passes its inputs on."""

    def call(self, inputs, mask=None, training=None):
        # BatchNormalization's call takes a mask and training; cloning passes them on.
        return inputs


def _check_graph(model: keras.Model, what: str) -> None:
    """Raise a clear error unless `model` and every model nested in it are graphs Keras can read."""
    for candidate in [model] + [layer for layer in nested_layers(model) if isinstance(layer, keras.Model)]:
        if not is_functional(candidate):
            raise TypeError(
                f"{what} needs a Functional or Sequential model, and {candidate.name!r} is a subclassed "
                f"model ({type(candidate).__name__}): its call is Python code, so Keras cannot see which "
                "layer feeds which. Build it with keras.Input and layer calls (as utils.build_functional "
                "does), copy the weights over with set_weights, and call this on that model.")


def _check_batchnorm(model: keras.Model, what: str) -> list[keras.layers.BatchNormalization]:
    layers = batchnorm_layers(model)
    if not layers:
        raise ValueError(f"{what}: model {model.name!r} has no BatchNormalization layer, so there is "
                         "nothing to do. Pass the model that holds the BatchNormalization layers.")
    return layers


def _in_graph_order(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """The BatchNormalization layers of a graph model, nested ones included, in the order data meets them."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _in_graph_order(layer)
        elif isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def _input_function(model: keras.Model, layer: keras.layers.Layer) -> Callable[[np.ndarray], np.ndarray]:
    """A function from `model`'s inputs to what `layer` receives, in inference mode."""
    if layer in model.layers:
        reader = keras.Model(functional_graph(model).input, input_in(model, layer))
        return lambda x: keras.ops.convert_to_numpy(reader(x, training=False))
    inner = next(m for m in model.layers if isinstance(m, keras.Model) and layer in nested_layers(m))
    outer, rest = _input_function(model, inner), _input_function(inner, layer)
    return lambda x: rest(outer(x))


def _population_statistics(read: Callable, x: np.ndarray, batch_size: int,
                           axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the variance (divided by N) of `read(x)` per channel of `axis`, over all of `x`."""
    total = total_squares = None
    count = 0
    for start in range(0, len(x), batch_size):
        values = np.moveaxis(read(x[start:start + batch_size]).astype(np.float64), axis, -1)
        values = values.reshape(-1, values.shape[-1])
        if total is None:
            total, total_squares = np.zeros(values.shape[1]), np.zeros(values.shape[1])
        total += values.sum(axis=0)
        total_squares += np.square(values).sum(axis=0)
        count += len(values)
    mean = total / count
    return mean, np.maximum(total_squares / count - np.square(mean), 0.0)


def recalibrate_batchnorm(model: keras.Model, x: np.ndarray, batch_size: int = 256,
                          layers: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Set BatchNormalization's moving statistics to the exact statistics of its inputs over `x`.

    Each layer gets the mean and the variance (divided by N) of what it receives
    when the whole model runs in inference mode on `x`, over every example and
    every position, per channel. Layers go in order, so a later layer sees inputs
    from the already recalibrated earlier ones. Nothing else changes. It costs one
    inference pass over `x` per layer, each through the model up to that layer.

    Args:
        x: the data to take the statistics of, usually the training inputs.
        batch_size: how many examples go through the model at a time.
        layers: names of the BatchNormalization layers to recalibrate; all by default.

    Returns:
        Per layer, how far the statistics moved: `mean_shift`, the new means' distance
        from the old in old standard deviations (averaged over channels), and
        `variance_ratio`, new variance over old (median over channels).
    """
    _check_batchnorm(model, "recalibrate_batchnorm")
    _check_graph(model, "recalibrate_batchnorm")
    check_input_shape("recalibrate_batchnorm", model, x)
    all_layers = _in_graph_order(model)
    hidden = sorted({layer.name for layer in batchnorm_layers(model)} - {layer.name for layer in all_layers})
    if hidden:
        raise ValueError(f"BatchNormalization layers {hidden} sit inside a custom layer, where the model's "
                         "graph does not show what they receive. Call recalibrate_batchnorm on the model "
                         "inside that layer, with the inputs that layer receives.")
    names = [layer.name for layer in all_layers]
    unknown = sorted(set(layers or ()) - set(names))
    if unknown:
        raise ValueError(f"No BatchNormalization layer named {unknown} in {model.name!r}; "
                         f"its BatchNormalization layers are {names}.")
    chosen = [layer for layer in all_layers if layers is None or layer.name in layers]
    frozen = [layer.name for layer in chosen if not layer.trainable]
    if frozen:
        raise ValueError(
            f"BatchNormalization layers {frozen} are frozen (trainable=False): they keep their moving "
            "statistics on purpose, typically the ones learned on the original data before fine-tuning. "
            "Recalibrating would replace them with the statistics of x. Pass layers=[...] without them, "
            "or set trainable=True first if replacing them is what you want.")
    x = np.asarray(x)
    if len(x) == 0:
        raise ValueError("recalibrate_batchnorm needs data: x is empty. Pass the training inputs.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
    bad = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))
    if len(bad):
        raise ValueError(f"x holds NaN or infinite values in {len(bad)} of its {len(x)} examples (indices "
                         f"{bad[:10].tolist()}{' ...' if len(bad) > 10 else ''}); the moving statistics were left "
                         "as they were. Pass finite inputs, e.g. x[np.isfinite(x).reshape(len(x), -1).all(axis=1)].")
    before = [[keras.ops.convert_to_numpy(v) for v in (layer.moving_mean, layer.moving_variance)] for layer in chosen]
    moved = {}
    for layer, (old_mean, old_variance) in zip(chosen, before):
        mean, variance = _population_statistics(_input_function(model, layer), x, batch_size, layer.axis)
        if not (np.isfinite(mean).all() and np.isfinite(variance).all()):
            # Overflow inside the model: put back what was already changed, so nothing is lost.
            for changed, (kept_mean, kept_variance) in zip(chosen, before):
                changed.moving_mean.assign(kept_mean)
                changed.moving_variance.assign(kept_variance)
            raise ValueError(f"The inputs of {layer.name!r} over x are not finite (an overflow inside the "
                             "model); the moving statistics were left as they were. Check the model's "
                             "weights and the scale of x.")
        layer.moving_mean.assign(mean.astype(old_mean.dtype))
        layer.moving_variance.assign(variance.astype(old_variance.dtype))
        moved[layer.name] = {
            "mean_shift": float(mean_shift(mean, old_mean, old_variance, layer.epsilon).mean()),
            "variance_ratio": float(np.median((variance + layer.epsilon) / (old_variance + layer.epsilon))),
        }
    return moved


def batchnorm_affine(layer: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """`scale` and `shift` with `layer(x) == scale * x + shift` in inference mode, per channel (float64)."""
    mean, variance = (keras.ops.convert_to_numpy(v).astype(np.float64)
                      for v in (layer.moving_mean, layer.moving_variance))
    gamma = keras.ops.convert_to_numpy(layer.gamma).astype(np.float64) if layer.scale else 1.0
    beta = keras.ops.convert_to_numpy(layer.beta).astype(np.float64) if layer.center else 0.0
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - scale * mean


def _consumers(model: keras.Model, tensor) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers
            if any(t is tensor for t in keras.tree.flatten(layer.input))]


def _producer(model: keras.Model, tensor) -> keras.layers.Layer | None:
    return next((layer for layer in model.layers if layer.output is tensor), None)


def _linear(layer: keras.layers.Layer) -> bool:
    return layer.get_config().get("activation") in ("linear", None)


def _fold_target(model: keras.Model, bn: keras.layers.BatchNormalization) -> tuple[str, keras.layers.Layer]:
    """Where `bn` folds: ("before", the Dense or Conv2D feeding it) or ("after", the one it feeds)."""
    if bn.axis not in (-1, len(bn.input.shape) - 1):
        raise ValueError(f"BatchNormalization layer {bn.name!r} normalises axis {bn.axis}, not the last "
                         "one: fold_batchnorm folds only channels-last layers.")
    before, after = _producer(model, bn.input), _consumers(model, bn.output)
    folds_into = (keras.layers.Dense, keras.layers.Conv2D)
    if (isinstance(before, folds_into) and _linear(before)
            and _consumers(model, before.output) == [bn]):
        return "before", before
    if (len(after) == 1 and not any(t is bn.output for t in model.outputs)
            and (isinstance(after[0], keras.layers.Dense)
                 or isinstance(after[0], keras.layers.Conv2D) and after[0].padding == "valid"
                 and after[0].groups == 1)):
        return "after", after[0]
    reasons = []
    if before is None or not isinstance(before, folds_into):
        reasons.append(f"before it is {type(before).__name__ if before else 'the input'}, not a Dense or Conv2D")
    elif not _linear(before):
        reasons.append(f"before it, {before.name!r} applies {before.get_config()['activation']!r}, "
                       "which stands between the weights and the normalisation")
    else:
        reasons.append(f"{before.name!r} before it also feeds other layers")
    if len(after) != 1:
        reasons.append(f"after it, its output goes to {len(after)} layers, not one")
    else:
        reasons.append(f"after it is {type(after[0]).__name__} {after[0].name!r}, not a Dense or a "
                       "Conv2D with padding='valid' (padding would be filled with zeros, not with the shift)")
    raise ValueError(f"BatchNormalization layer {bn.name!r} cannot be folded exactly: "
                     + "; ".join(reasons) + ". Keep it, or move it next to a Dense or Conv2D.")


def _fold(kernel: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray,
          side: str) -> tuple[np.ndarray, np.ndarray]:
    """A layer's kernel and bias with `x -> scale * x + shift` folded in on `side` of it."""
    if side == "before":  # the BatchNormalization acts on this layer's outputs: the last kernel axis
        return kernel * scale, bias * scale + shift
    # It acts on this layer's inputs: the second-to-last kernel axis (Dense and Conv2D alike).
    return kernel * scale[:, None], bias + np.tensordot(kernel, shift, axes=([kernel.ndim - 2], [0])).sum(
        axis=tuple(range(kernel.ndim - 2)))


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """A copy of `model` with every BatchNormalization folded into a Dense or Conv2D beside it.

    Each BatchNormalization is folded into the Dense or Conv2D before it when that
    layer has no activation and feeds nothing else; otherwise into the Dense (or
    Conv2D with padding "valid") after it. Its place is taken by a `FoldedAway` layer
    of the same name, which passes its inputs on. The copy's inference outputs equal the original's; `model` is
    left untouched.

    Raises:
        ValueError: for a BatchNormalization that can be folded into neither neighbour.
    """
    _check_batchnorm(model, "fold_batchnorm")
    _check_graph(model, "fold_batchnorm")
    weights = {}
    for bn in [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]:
        side, target = _fold_target(model, bn)
        kernel, bias = weights.get(target.name) or (
            keras.ops.convert_to_numpy(target.kernel).astype(np.float64),
            keras.ops.convert_to_numpy(target.bias).astype(np.float64) if target.use_bias
            else np.zeros(target.kernel.shape[-1]))
        weights[target.name] = _fold(kernel, bias, *batchnorm_affine(bn), side)

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.BatchNormalization):
            return FoldedAway(name=layer.name)
        if isinstance(layer, keras.Model):
            if batchnorm_layers(layer):
                return fold_batchnorm(layer)
            copy = keras.models.clone_model(layer)
            copy.set_weights(layer.get_weights())
            return copy
        config = layer.get_config()
        if layer.name in weights:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.BatchNormalization, keras.Model)) or not layer.weights:
            continue
        new = folded.get_layer(layer.name)
        if layer.name in weights:
            new.set_weights([w.astype(np.float32) for w in weights[layer.name]])
        else:
            new.set_weights(layer.get_weights())
    return folded


def inference_scores(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, cross-entropy, mean confidence and calibration error of `predict` on (x, y), as a dict."""
    check_examples("inference_scores", x, y)
    probabilities = model.predict(x, verbose=0)
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1)
    return {"accuracy": float((probabilities.argmax(axis=1) == y).mean()),
            "cross-entropy": float(-np.log(picked).mean()),
            "confidence": float(probabilities.max(axis=1).mean()),
            "calibration error": expected_calibration_error(probabilities, y)}


def copy_model(model: keras.Model) -> keras.Model:
    """A new model with the same graph and a copy of every weight, moving statistics included."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy
