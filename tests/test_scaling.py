"""Scale invariance of the layer before a BatchNormalization, measured on the seed model."""

import keras
import numpy as np
import pytest

from utils import WITHOUT_NORMALIZATION, build_functional, load_mnist_subset, scale_effect, scaled_copy


@pytest.fixture(scope="module")
def batch():
    (x, y), _ = load_mnist_subset()
    return x[:64], y[:64]


@pytest.fixture(scope="module")
def model(batch):
    keras.utils.set_random_seed(0)
    trained = build_functional()
    trained.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    trained.fit(*batch, batch_size=16, epochs=1, verbose=0)
    return trained


@pytest.fixture(scope="module")
def effect(model, batch):
    # An epsilon far below the variance it is added to: the case the invariance speaks of.
    small = build_functional()
    small.set_weights(model.get_weights())
    small.get_layer("batchnorm").epsilon = 1e-12
    return scale_effect(small, "dense", 10.0, *batch)


def test_the_seed_models_batchnorm_normalises_a_variance_close_to_its_epsilon(model, batch):
    # Why the invariance is measured with a smaller epsilon: at 1e-3 the epsilon is not negligible here.
    assert scale_effect(model, "dense", 10.0, *batch)["variance over epsilon"] < 10


def test_with_the_default_epsilon_scaling_still_changes_the_training_mode_output(model, batch):
    assert scale_effect(model, "dense", 10.0, *batch)["output change, training mode"] > 1e-2


def test_scaling_the_layer_before_batchnorm_leaves_the_training_mode_output_unchanged(effect):
    assert effect["output change, training mode"] < 1e-4


def test_scaling_changes_the_inference_mode_output_whose_moving_statistics_were_not_scaled(effect):
    assert effect["output change, inference mode"] > 1e-2


def test_scaling_by_c_shrinks_the_kernel_gradient_by_one_over_c(effect):
    assert effect["gradient ratio"] == pytest.approx(1 / 10.0, rel=1e-3)


def test_a_layer_with_no_batchnorm_after_it_is_refused(batch):
    keras.utils.set_random_seed(0)
    plain = build_functional(normalization=WITHOUT_NORMALIZATION)
    with pytest.raises(ValueError, match="No BatchNormalization after"):
        scale_effect(plain, "dense", 10.0, *batch)


def test_scale_effect_leaves_the_model_as_it_was(model, batch):
    before = [keras.ops.convert_to_numpy(v.value) for v in model.variables]
    scale_effect(model, "dense", 3.0, *batch)
    for variable, value in zip(model.variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable.value), value)


@pytest.mark.parametrize("factor", [0.0, -2.0, float("inf")])
def test_a_factor_that_is_not_positive_is_refused(model, factor):
    with pytest.raises(ValueError, match="positive number"):
        scaled_copy(model, "dense", factor)


def test_an_unknown_layer_is_refused_with_the_layers_listed(model):
    with pytest.raises(ValueError, match="its layers are"):
        scaled_copy(model, "dense_1", 2.0)


def test_a_layer_without_weights_is_refused_with_what_to_pick(model):
    with pytest.raises(ValueError, match="pick the Dense or Conv2D"):
        scaled_copy(model, "pool", 2.0)
