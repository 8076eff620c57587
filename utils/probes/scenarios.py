"""The probe models: the same measured layers in every style a model can be written in."""

import dataclasses
from collections.abc import Callable
from functools import partial

import numpy as np

from utils.probes.keras_choice import keras
from utils.probes.layers import Tap, TrainingProbe

BATCH = 32
FEATURES = 4


@dataclasses.dataclass
class ProbeModel:
    """A model built for measuring, and the layers the measurement reads."""

    model: keras.Model
    probe: TrainingProbe
    batchnorm: keras.layers.BatchNormalization
    batchnorm_out: Tap
    dropout_out: Tap


class _Block:
    """The measured layers: probe -> BatchNormalization -> tap -> Dropout -> tap."""

    def __init__(self):
        self.probe = TrainingProbe(name="probe")
        self.batchnorm = keras.layers.BatchNormalization(name="batchnorm")
        self.batchnorm_out = Tap(name="batchnorm_out")
        self.dropout = keras.layers.Dropout(0.5, seed=0, name="dropout")
        self.dropout_out = Tap(name="dropout_out")

    def layers(self) -> list:
        return [self.probe, self.batchnorm, self.batchnorm_out, self.dropout, self.dropout_out]

    def __call__(self, x, training=None):
        """Chain the layers, passing `training` only when it is not None."""
        kwargs = {} if training is None else {"training": training}
        x = self.probe(x, **kwargs)
        x = self.batchnorm_out(self.batchnorm(x, **kwargs))
        return self.dropout_out(self.dropout(x, **kwargs))

    def probe_model(self, model: keras.Model) -> ProbeModel:
        return ProbeModel(model, self.probe, self.batchnorm, self.batchnorm_out, self.dropout_out)


def _input():
    return keras.Input((FEATURES,), batch_size=BATCH, name="x")


def _head():
    return keras.layers.Dense(1, name="head")


def _sequential() -> ProbeModel:
    block = _Block()
    model = keras.Sequential([_input(), *block.layers(), _head()])
    return block.probe_model(model)


def _functional(built_training: bool | None = None) -> ProbeModel:
    block = _Block()
    inputs = _input()
    outputs = _head()(block(inputs, training=built_training))
    return block.probe_model(keras.Model(inputs, outputs))


class _SubclassedProbeModel(keras.Model):
    """A subclassed model whose `call` passes `training` to each layer itself."""

    def __init__(self):
        super().__init__(name="subclassed")
        self.block = _Block()
        self.tracked = self.block.layers()  # a list attribute makes Keras track the layers
        self.head = _head()

    def call(self, inputs, training=None):
        block = self.block
        x = block.probe(inputs, training=training)
        x = block.batchnorm_out(block.batchnorm(x, training=training))
        return self.head(block.dropout_out(block.dropout(x, training=training)))


def _subclassed() -> ProbeModel:
    model = _SubclassedProbeModel()
    model(np.zeros((BATCH, FEATURES), "float32"))
    return model.block.probe_model(model)


def _nested_base(frozen: bool) -> ProbeModel:
    functional = _functional()
    base = functional.model
    base.trainable = not frozen
    inputs = _input()
    outputs = _head()(base(inputs, training=False))
    return dataclasses.replace(functional, model=keras.Model(inputs, outputs))


class _LayerWithoutTrainingArg(keras.layers.Layer):
    """A custom layer whose `call` has no `training` argument at all."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = _Block()
        self.tracked = self.block.layers()  # a list attribute makes Keras track the layers

    def build(self, input_shape):
        for layer in self.block.layers():
            layer.build(input_shape)

    def call(self, inputs):
        return self.block(inputs)


def _custom_layer() -> ProbeModel:
    layer = _LayerWithoutTrainingArg(name="custom")
    inputs = _input()
    return layer.block.probe_model(keras.Model(inputs, _head()(layer(inputs))))


# Each scenario, as the matrix names it, and what it is.
SCENARIOS: dict[str, str] = {
    "sequential": "Sequential model, nothing passed",
    "functional": "Functional model, nothing passed",
    "subclassed": "subclassed model whose call passes training on",
    "functional_built_training_false": "Functional, BN and Dropout called with training=False while building",
    "functional_built_training_true": "Functional, BN and Dropout called with training=True while building",
    "nested_base_training_false": "trainable base model called as base(inputs, training=False)",
    "nested_base_frozen": "the same base with base.trainable = False",
    "custom_layer_without_training_arg": "custom layer whose call takes no training, with BN and Dropout inside",
}

# How each scenario's model is built.
BUILDERS: dict[str, Callable[[], ProbeModel]] = {
    "sequential": _sequential,
    "functional": _functional,
    "subclassed": _subclassed,
    "functional_built_training_false": partial(_functional, built_training=False),
    "functional_built_training_true": partial(_functional, built_training=True),
    "nested_base_training_false": partial(_nested_base, frozen=False),
    "nested_base_frozen": partial(_nested_base, frozen=True),
    "custom_layer_without_training_arg": _custom_layer,
}
