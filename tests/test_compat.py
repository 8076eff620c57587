"""The private Keras APIs behind `utils.compat`: if a release moves one, these fail first."""

import keras
import numpy as np
import pytest

from utils import (
    behaviour_matrix,
    build_base,
    build_classifier,
    build_functional,
    build_sequential,
    build_subclassed,
    construction_time_value_wins,
)
from utils.compat import (
    construction_time_training,
    fit_overrides_construction_time_training,
    fit_state,
    is_functional,
    nested_layers,
)


@pytest.mark.parametrize("version, overrides", [
    ("2.15.0", False), ("3.0.0", True), ("3.13.2", True), ("3.15.1", True),
    ("3.16.0.dev2026102704", False), ("3.16.0", False),
])
def test_fit_overrides_construction_time_training_from_keras_3_0_to_3_15(version, overrides):
    assert fit_overrides_construction_time_training(version) is overrides


def test_the_version_boundary_agrees_with_what_fit_does_on_this_keras():
    rows = behaviour_matrix(["functional_built_training_false"], ["fit"])
    assert fit_overrides_construction_time_training() is not construction_time_value_wins(rows)


def test_nested_layers_include_the_layers_of_a_nested_model():
    base = build_base()
    model = build_classifier(base, 5)
    names = [layer.name for layer in nested_layers(model)]
    assert "base" in names and "head" in names
    assert {layer.name for layer in base.layers if layer.name != base.layers[0].name} <= set(names)


@pytest.mark.parametrize("build, functional", [
    (build_sequential, True), (build_functional, True), (build_subclassed, False),
])
def test_is_functional_tells_graph_models_from_subclassed_ones(build, functional):
    assert is_functional(build()) is functional


@pytest.mark.parametrize("training", [False, True])
def test_construction_time_training_names_the_layer_called_with_training(training):
    model = build_classifier(build_base(), 5, training=training)
    assert construction_time_training(model) == {"base": training}


def test_construction_time_training_is_empty_when_nothing_was_written():
    assert construction_time_training(build_classifier(build_base(), 5)) == {}


def test_input_in_finds_what_a_nested_model_receives_in_the_outer_graph():
    from utils import build_base, build_classifier
    from utils.compat import input_in

    base = build_base()
    model = build_classifier(base, num_classes=3)
    assert input_in(model, base) is model.input
    assert input_in(base, base.get_layer("batchnorm1")) is base.get_layer("conv1").output


def test_functional_graph_finds_the_graph_a_sequential_model_keeps():
    from utils import build_sequential
    from utils.compat import functional_graph

    model = build_sequential()
    assert [layer.name for layer in functional_graph(model).layers[1:]] == [layer.name for layer in model.layers]


class _FitState(keras.callbacks.Callback):
    """Keeps what `fit_state` gives at the start of each training batch.

    It holds the model itself: on JAX, reading a callback's `self.model` first syncs the state back.
    """

    def __init__(self, watched: keras.Model):
        super().__init__()
        self.watched = watched
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        state = fit_state(self.watched)
        self.seen.append(None if state is None else [np.array(value) for value in state])


def _fit_with_state(steps: int = 3) -> tuple[keras.Model, list]:
    model = build_sequential()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = _FitState(model)
    images = np.random.default_rng(0).random((16 * steps, 28, 28, 1), dtype="float32")
    model.fit(images, np.arange(16 * steps) % 10, batch_size=16, epochs=1, verbose=0, callbacks=[seen])
    return model, seen.seen


def test_fit_state_is_none_outside_fit():
    assert fit_state(build_sequential()) is None


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="on JAX fit keeps its state outside the variables")
def test_fit_state_is_none_during_fit_where_the_variables_are_current():
    _, seen = _fit_with_state()
    assert seen == [None, None, None]


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only JAX's fit keeps its state outside the variables")
def test_fit_state_is_none_before_the_first_step_on_jax():
    _, seen = _fit_with_state()
    assert seen[0] is None


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only JAX's fit keeps its state outside the variables")
def test_fit_state_after_a_step_on_jax_holds_each_non_trainable_value_as_it_moves():
    model, seen = _fit_with_state()
    shapes = [tuple(variable.shape) for variable in model.non_trainable_variables]
    assert [[value.shape for value in state] for state in seen[1:]] == [shapes, shapes]
    moving_mean = [variable.path.endswith("batchnorm/moving_mean") for variable in model.non_trainable_variables
                   ].index(True)
    assert not np.array_equal(seen[1][moving_mean], seen[2][moving_mean])
