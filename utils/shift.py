"""Shifted data and what BatchNormalization can do about it: corrupted digits, batch statistics at test time."""

import keras
import numpy as np
from scipy import ndimage

from utils.bn import batchnorm_layers

SEVERITIES = (1, 2, 3, 4, 5)

# Per kind, the strength at severities 1 to 5, in the spirit of ImageNet-C (Hendrycks &
# Dietterich, arXiv 1903.12261): the noise's standard deviation and the brightness added (as
# shares of the input's value range), the share of contrast removed, the share of each image
# (its left columns) turned to its negative, the pixels moved and the blur's standard deviation.
CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "gaussian noise": (0.08, 0.12, 0.18, 0.26, 0.38),
    "contrast": (0.6, 0.7, 0.8, 0.9, 0.95),
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
    "inversion": (0.2, 0.4, 0.6, 0.8, 1.0),
    "translation": (2, 3, 4, 5, 6),
    "blur": (0.5, 0.8, 1.1, 1.5, 2.0),
}


def _translated(images: np.ndarray, pixels: int, rng: np.random.Generator) -> np.ndarray:
    """Each image moved `pixels` up, down, left or right (drawn per image), the background filled in."""
    moves = np.array([(-pixels, 0), (pixels, 0), (0, -pixels), (0, pixels)])[rng.integers(0, 4, len(images))]
    background = images.min()
    return np.stack([ndimage.shift(image, (dy, dx, 0), order=0, cval=background)
                     for image, (dy, dx) in zip(images, moves)])


def corrupt(images: np.ndarray, kind: str, severity: int, seed: int = 0) -> np.ndarray:
    """A corrupted copy of `images`: the same shape, dtype and value range, the same for the same seed.

    Args:
        images: a batch shaped (n, height, width, channels), finite.
        kind: a key of `CORRUPTIONS`.
        severity: 1 (mild) to 5 (strong).
        seed: the seed of the noise and of the translations' directions.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"Unknown corruption {kind!r}; choose one of {list(CORRUPTIONS)}.")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise ValueError(f"severity must be a whole number from 1 to 5, not {severity!r}.")
    images = np.asarray(images)
    if images.ndim != 4 or images.size == 0:
        raise ValueError(f"corrupt needs a non-empty batch shaped (n, height, width, channels), not {images.shape}; "
                         "for one image pass image[None].")
    if not np.isfinite(images).all():
        raise ValueError("images hold NaN or infinite values; corrupt keeps the input's value range, "
                         "which they leave undefined. Pass finite images.")
    low, high = float(images.min()), float(images.max())
    span = high - low
    strength = CORRUPTIONS[kind][severity - 1]
    rng = np.random.default_rng(seed)
    x = images.astype("float64")
    if kind == "gaussian noise":
        x = x + rng.normal(0.0, strength * span, x.shape)
    elif kind == "contrast":
        means = x.mean(axis=(1, 2, 3), keepdims=True)
        x = means + (1 - strength) * (x - means)
    elif kind == "brightness":
        x = x + strength * span
    elif kind == "inversion":
        columns = round(strength * x.shape[2])
        x[:, :, :columns] = low + high - x[:, :, :columns]
    elif kind == "translation":
        x = _translated(x, int(strength), rng)
    else:
        x = np.stack([ndimage.gaussian_filter(image, sigma=(strength, strength, 0)) for image in x])
    return np.clip(x, low, high).astype(images.dtype)


def _group_moments(inputs, group_size, axis: int):
    """Per example, the mean and biased variance over its group of `group_size` consecutive examples
    (all of them when None; the last group may be smaller), over every axis but `axis`.

    `group_size` may be a variable: the number of groups is then bounded by the batch size, so
    that changing it needs no new trace.
    """
    rank = len(inputs.shape)
    within = [i for i in range(1, rank) if i != axis]
    if group_size is None:
        return keras.ops.moments(inputs, axes=[0, *within], keepdims=True)
    groups = keras.ops.arange(keras.ops.shape(inputs)[0]) // keras.ops.cast(group_size, "int32")
    # JAX needs the number of groups at trace time, where its shapes are static; TensorFlow may not know it.
    number = inputs.shape[0]
    count = keras.ops.segment_sum(keras.ops.ones_like(groups, dtype=inputs.dtype), groups, num_segments=number)
    count = keras.ops.maximum(count, 1.0)
    positions = float(np.prod([inputs.shape[i] for i in within])) if within else 1.0

    def per_example(values):
        sums = keras.ops.sum(values, axis=within) if within else values
        totals = keras.ops.segment_sum(sums, groups, num_segments=number)
        means = totals / (keras.ops.expand_dims(count, -1) * positions)
        return keras.ops.reshape(keras.ops.take(means, groups, axis=0),
                                 [-1] + [1] * len(within) + [inputs.shape[axis]])

    mean = per_example(inputs)
    return mean, per_example(keras.ops.square(inputs - mean))


def _normalised(layer: keras.layers.BatchNormalization, inputs, mean, variance):
    """`inputs` normalised with `mean` and `variance`, then scaled and shifted by the layer's gamma and beta."""
    return (inputs - mean) * keras.ops.rsqrt(variance + layer.epsilon) * layer.gamma + layer.beta


class BatchStatistics(keras.layers.BatchNormalization):
    """BatchNormalization that normalises with the statistics of the examples it is given, in any mode,
    and updates nothing: the test-time batch statistics of the data-shift literature.

    Args:
        group_size: normalise each run of this many consecutive examples with its own statistics,
            as if they came in batches of that size; the whole batch when None.
    """

    def __init__(self, group_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size

    def call(self, inputs, training=None, mask=None):
        axis = self.axis % len(inputs.shape)
        return _normalised(self, inputs, *_group_moments(inputs, self.group_size, axis))

    def get_config(self) -> dict:
        return {**super().get_config(), "group_size": self.group_size}


class SplitBatchNormalization(keras.layers.BatchNormalization):
    """BatchNormalization whose training mode splits each batch into groups of `group_size` consecutive
    examples and normalises each group with its own statistics.

    The moving statistics move toward the mean of the groups' statistics; inference mode is
    BatchNormalization's. The group size is a variable (`layer.group_size.assign(8)`), so that
    one compiled model can train at every size. Training batches must be whole multiples of it.
    """

    def __init__(self, group_size: int = 32, **kwargs):
        super().__init__(**kwargs)
        self._initial_group_size = group_size

    def build(self, input_shape):
        super().build(input_shape)
        self.group_size = self.add_weight(shape=(), dtype="int32", trainable=False, name="group_size",
                                          initializer=keras.initializers.Constant(self._initial_group_size))

    def call(self, inputs, training=None, mask=None):
        if not training or not self.trainable:
            return super().call(inputs, training=False)
        axis = self.axis % len(inputs.shape)
        mean, variance = _group_moments(inputs, self.group_size, axis)
        reduce = [i for i in range(len(inputs.shape)) if i != axis]
        for moving, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
            average = keras.ops.mean(value, axis=reduce)
            moving.assign(self.momentum * moving + (1 - self.momentum) * keras.ops.cast(average, moving.dtype))
        return _normalised(self, inputs, mean, variance)


def with_batch_statistics(model: keras.Model, batch_size: int | None = None) -> keras.Model:
    """A copy of `model` whose BatchNormalization layers normalise with the statistics of each batch.

    Every other layer (Dropout included) runs as `predict` runs it, in inference mode, and the
    copy updates nothing, so `model` stays exactly as it was.

    Args:
        batch_size: the size of the batches whose statistics are used: `copy.predict(x,
            batch_size=len(x))` then treats `x` as consecutive batches of that size. By default
            each batch `predict` passes.
    """
    if not batchnorm_layers(model):
        raise ValueError(f"{model.name!r} has no BatchNormalization layer, so batch statistics change nothing; "
                         "pass a model that has one, e.g. utils.build_functional(conv_batchnorm=True).")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a whole number of at least 1 (or None), not {batch_size!r}.")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis % len(layer.input.shape) != len(layer.input.shape) - 1:
                raise ValueError(f"{layer.name!r} normalises axis {layer.axis}; with_batch_statistics supports "
                                 "channels-last BatchNormalization (axis=-1) only.")
            return BatchStatistics(group_size=batch_size, **layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
    except ValueError as error:
        if "axis" in str(error):
            raise
        raise ValueError(f"with_batch_statistics copies the model's graph, which a subclassed model does not "
                         f"expose ({error}); build it as Sequential or Functional, e.g. utils.build_functional().") \
            from error
    # By name: a SplitBatchNormalization also holds its group size, which the copy has no use for.
    for original, cloned in zip(model.layers, copy.layers):
        values = {variable.name: variable for variable in original.weights}
        for variable in cloned.weights:
            # A copy: on JAX, predict may donate the copy's buffers, and a shared one would go with them.
            variable.assign(keras.ops.convert_to_numpy(values[variable.name]))
    return copy
