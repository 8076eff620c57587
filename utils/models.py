"""The seed question's model, defined once and built three ways."""

from collections.abc import Sequence

import keras

from utils.compat import nested_layers

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


# The layer that can stand in for the seed model's BatchNormalization, by name.
NORMALIZATIONS: dict[str, str] = {
    "batch": "BatchNormalization",
    "layer": "LayerNormalization",
    "group": "GroupNormalization",
}
# The seed model with no layer there: what BatchNormalization is compared against.
WITHOUT_NORMALIZATION = "none"


def seed_layers(num_classes: int = 10, conv_batchnorm: bool = False,
                normalization: str = "batch", before_activation: bool = False) -> list[keras.layers.Layer]:
    """Return new, unbuilt layers of the seed model, in order.

    Args:
        num_classes: the width of the classifier.
        conv_batchnorm: also put a BatchNormalization layer, "conv_batchnorm",
            after the convolution (one channel per filter, statistics over
            every pixel of the batch), for a second layer to compare with.
        normalization: a key of `NORMALIZATIONS`: the layer after `Dense(64)`.
            Other than "batch" it is named "normalization" and does not depend on
            the batch (GroupNormalization uses 8 groups of 8 units).
            `WITHOUT_NORMALIZATION` ("none") leaves that layer out; every other
            layer, and with the same seed every initial weight, stays as it is.
        before_activation: put that layer between `Dense(64)` and its ReLU (a layer
            named "relu") instead of after the ReLU.
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}.")
    if normalization not in NORMALIZATIONS and normalization != WITHOUT_NORMALIZATION:
        raise ValueError(f"Unknown normalization {normalization!r}; choose from "
                         f"{[*NORMALIZATIONS, WITHOUT_NORMALIZATION]}.")
    if before_activation and normalization == WITHOUT_NORMALIZATION:
        raise ValueError("before_activation places the normalization layer, and normalization='none' has none: "
                         "pass one of the two.")
    layers = []
    for class_name, kwargs in SEED_SPEC:
        if kwargs["name"] == "batchnorm" and normalization == WITHOUT_NORMALIZATION:
            continue
        if kwargs["name"] == "classifier":
            kwargs = dict(kwargs, units=num_classes)
        if kwargs["name"] == "batchnorm" and normalization != "batch":
            class_name = NORMALIZATIONS[normalization]
            kwargs = dict(name="normalization", **({"groups": 8} if normalization == "group" else {}))
        if before_activation and kwargs["name"] == "dense":
            kwargs = dict(kwargs, activation=None)
        layers.append(getattr(keras.layers, class_name)(**kwargs))
        if before_activation and kwargs["name"] in ("batchnorm", "normalization"):
            layers.append(keras.layers.ReLU(name="relu"))
        if conv_batchnorm and kwargs["name"] == "conv":
            layers.append(keras.layers.BatchNormalization(name="conv_batchnorm"))
    return layers


def build_sequential(
    input_shape: Sequence[int] = INPUT_SHAPE, num_classes: int = 10, normalization: str = "batch"
) -> keras.Sequential:
    """Build the seed model with the Sequential API (`normalization` as in `seed_layers`)."""
    shape = _check_input_shape(input_shape)
    return keras.Sequential(
        [keras.Input(shape), *seed_layers(num_classes, normalization=normalization)], name="seed_sequential"
    )


def build_functional(
    input_shape: Sequence[int] = INPUT_SHAPE, num_classes: int = 10, conv_batchnorm: bool = False,
    normalization: str = "batch", before_activation: bool = False,
) -> keras.Model:
    """Build the seed model with the Functional API, no `training=` anywhere.

    `conv_batchnorm`, `normalization` and `before_activation` are as in `seed_layers`.
    """
    inputs = keras.Input(_check_input_shape(input_shape), name="image")
    x = inputs
    for layer in seed_layers(num_classes, conv_batchnorm, normalization, before_activation):
        x = layer(x)
    return keras.Model(inputs, x, name="seed_functional")


class SeedModel(keras.Model):
    """The seed model as a subclass whose `call` passes `training` on by hand."""

    def __init__(self, num_classes: int = 10, normalization: str = "batch", **kwargs):
        super().__init__(**kwargs)
        self.blocks = seed_layers(num_classes, normalization=normalization)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.blocks:
            x = layer(x, training=training)
        return x


def build_subclassed(
    input_shape: Sequence[int] = INPUT_SHAPE, num_classes: int = 10, normalization: str = "batch"
) -> SeedModel:
    """Build the seed model as a subclassed `keras.Model`, weights created (`normalization` as in `seed_layers`)."""
    shape = _check_input_shape(input_shape)
    model = SeedModel(num_classes, normalization, name="seed_subclassed")
    # One inference-mode call creates the weights and changes no state.
    model(keras.ops.zeros((1, *shape)))
    return model


def build_base(input_shape: Sequence[int] = INPUT_SHAPE) -> keras.Model:
    """A small convolutional base with three BatchNormalization layers, to pretrain and transfer."""
    inputs = keras.Input(_check_input_shape(input_shape), name="image")
    x = inputs
    for block, filters in enumerate((16, 32), start=1):
        x = keras.layers.Conv2D(filters, 3, name=f"conv{block}")(x)
        # Momentum 0.9, not 0.99: the runs here are a few hundred steps, too short
        # for the default to forget its starting values (notebook 03).
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"batchnorm{block}")(x)
        x = keras.layers.ReLU(name=f"relu{block}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{block}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, name="dense")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="batchnorm3")(x)
    outputs = keras.layers.ReLU(name="features")(x)
    return keras.Model(inputs, outputs, name="base")


def build_classifier(base: keras.Model, num_classes: int, training: bool | None = None) -> keras.Model:
    """A new classification head on `base`, called as `base(inputs, training=training)`.

    `training=False` is the classic transfer-learning recipe; whether `fit`
    keeps it depends on the Keras release (see notebook 01).
    """
    inputs = keras.Input(base.input_shape[1:], name="image")
    # An explicit training=None is not the same as none on every release: the
    # development branch after Keras 3.15.1 keeps it, so fit never trains BN.
    features = base(inputs) if training is None else base(inputs, training=training)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(features)
    return keras.Model(inputs, outputs, name="classifier")


def unfreeze(model: keras.Model, from_layer: str | None = None,
             keep_batchnorm_frozen: bool = True) -> list[str]:
    """Make `model` trainable again for fine-tuning, BatchNormalization kept frozen by default.

    A frozen BatchNormalization layer runs in inference mode even inside `fit`,
    so its moving statistics, learned on the original data, stay as they are:
    on every Keras version, whatever `training=` the model was built with.
    Compile the model again afterwards, or `fit` may not see the change.

    Args:
        model: the model, or the base model inside it, to unfreeze.
        from_layer: the name of the first layer of `model.layers` to unfreeze;
            the layers before it stay frozen. All of them by default.
        keep_batchnorm_frozen: leave every BatchNormalization layer frozen.

    Returns:
        The names of the layers with weights that are now trainable.
    """
    layers = model.layers
    start = 0
    if from_layer is not None:
        names = [layer.name for layer in layers]
        if from_layer not in names:
            raise ValueError(f"No layer named {from_layer!r} in {model.name!r}; its layers are {names}.")
        start = names.index(from_layer)
    model.trainable = True
    # On a model that is already trainable, `model.trainable = True` leaves the layers
    # inside that were frozen one by one frozen (measured in notebook 04): set each.
    for layer in nested_layers(model):
        layer.trainable = True
    for layer in layers[:start]:
        layer.trainable = False
    if keep_batchnorm_frozen:
        for layer in nested_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    # A layer inside a frozen nested model has trainable=True but does not train:
    # count only the weights the model itself would train.
    training = {id(weight) for weight in model.trainable_weights}
    unfrozen = [layer.name for layer in nested_layers(model)
                if not isinstance(layer, keras.Model)
                and any(id(weight) in training for weight in layer.trainable_weights)]
    if not unfrozen:
        raise ValueError(
            f"Nothing to unfreeze in {model.name!r}"
            + (f" from layer {from_layer!r}" if from_layer else "")
            + ": no layer there has weights"
            + (" other than BatchNormalization, which stays frozen" if keep_batchnorm_frozen else "")
            + ". Choose an earlier from_layer, or pass keep_batchnorm_frozen=False."
        )
    return unfrozen
