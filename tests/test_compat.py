"""The private Keras APIs behind `utils.compat`: if a release moves one, these fail first."""

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
