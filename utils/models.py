"""The seed question's model, defined once and built three ways."""

from collections.abc import Sequence

import keras

INPUT_SHAPE = (28, 28, 1)

# The model from the seed question, layer by layer: (layer class, arguments).
SEED_SPEC: tuple[tuple[str, dict], ...] = (
    ("Conv2D", dict(name="conv", filters=32, kernel_size=3, activation="relu",
                    kernel_regularizer=keras.regularizers.L2(0.02))),
    ("MaxPooling2D", dict(name="pool")),
    ("Flatten", dict(name="flatten")),
    ("Dropout", dict(name="dropout", rate=0.1)),
    ("Dense", dict(name="dense", units=64, activation="relu")),
    ("BatchNormalization", dict(name="batchnorm")),
    ("Dense", dict(name="classifier", activation="softmax")),
)


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """Return `input_shape` as a tuple, or raise if the seed model cannot take it."""
    shape = tuple(input_shape)
    valid = len(shape) == 3 and all(isinstance(d, int) and d > 0 for d in shape)
    if not valid or min(shape[:2]) < 4:
        raise ValueError(
            f"input_shape must be (height, width, channels) with height and "
            f"width at least 4 (a 3x3 convolution, then 2x2 pooling), e.g. "
            f"{INPUT_SHAPE}; got {input_shape!r}."
        )
    return shape


def seed_layers(num_classes: int = 10, conv_batchnorm: bool = False) -> list[keras.layers.Layer]:
    """Return new, unbuilt layers of the seed model, in order.

    Args:
        num_classes: the width of the classifier.
        conv_batchnorm: also put a BatchNormalization layer, "conv_batchnorm",
            after the convolution (one channel per filter, statistics over
            every pixel of the batch), for a second layer to compare with.
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}.")
    layers = []
    for class_name, kwargs in SEED_SPEC:
        if kwargs["name"] == "classifier":
            kwargs = dict(kwargs, units=num_classes)
        layers.append(getattr(keras.layers, class_name)(**kwargs))
        if conv_batchnorm and kwargs["name"] == "conv":
            layers.append(keras.layers.BatchNormalization(name="conv_batchnorm"))
    return layers


def build_sequential(
    input_shape: Sequence[int] = INPUT_SHAPE, num_classes: int = 10
) -> keras.Sequential:
    """Build the seed model with the Sequential API."""
    shape = _check_input_shape(input_shape)
    return keras.Sequential(
        [keras.Input(shape), *seed_layers(num_classes)], name="seed_sequential"
    )


def build_functional(
    input_shape: Sequence[int] = INPUT_SHAPE, num_classes: int = 10, conv_batchnorm: bool = False
) -> keras.Model:
    """Build the seed model with the Functional API, no `training=` anywhere.

    `conv_batchnorm` adds a second BatchNormalization layer, as in `seed_layers`.
    """
    inputs = keras.Input(_check_input_shape(input_shape), name="image")
    x = inputs
    for layer in seed_layers(num_classes, conv_batchnorm):
        x = layer(x)
    return keras.Model(inputs, x, name="seed_functional")


class SeedModel(keras.Model):
    """The seed model as a subclass whose `call` passes `training` on by hand."""

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.blocks = seed_layers(num_classes)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.blocks:
            x = layer(x, training=training)
        return x


def build_subclassed(
    input_shape: Sequence[int] = INPUT_SHAPE, num_classes: int = 10
) -> SeedModel:
    """Build the seed model as a subclassed `keras.Model`, weights created."""
    shape = _check_input_shape(input_shape)
    model = SeedModel(num_classes, name="seed_subclassed")
    # One inference-mode call creates the weights and changes no state.
    model(keras.ops.zeros((1, *shape)))
    return model
