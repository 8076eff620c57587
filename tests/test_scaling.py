"""Scale invariance of the layer before a BatchNormalization, measured on the seed briefly_trained."""

import keras
import numpy as np
import pytest

from utils import WITHOUT_NORMALIZATION, build_functional, scale_effect, scaled_copy


@pytest.fixture(scope="module")
def effect(briefly_trained, first_digits):
    # An epsilon far below the variance it is added to: the case the invariance speaks of.
    small = build_functional()
    small.set_weights(briefly_trained.get_weights())
    small.get_layer("batchnorm").epsilon = 1e-12
    return scale_effect(small, "dense", 10.0, *first_digits)


def test_the_seed_models_batchnorm_normalises_a_variance_close_to_its_epsilon(briefly_trained, first_digits):
    # Why the invariance is measured with a smaller epsilon: at 1e-3 the epsilon is not negligible here.
    assert scale_effect(briefly_trained, "dense", 10.0, *first_digits)["variance over epsilon"] < 10


def test_with_the_default_epsilon_scaling_still_changes_the_training_mode_output(briefly_trained, first_digits):
    assert scale_effect(briefly_trained, "dense", 10.0, *first_digits)["output change, training mode"] > 1e-2


def test_scaling_the_layer_before_batchnorm_leaves_the_training_mode_output_unchanged(effect):
    assert effect["output change, training mode"] < 1e-4


def test_scaling_changes_the_inference_mode_output_whose_moving_statistics_were_not_scaled(effect):
    assert effect["output change, inference mode"] > 1e-2


def test_scaling_by_c_shrinks_the_kernel_gradient_by_one_over_c(effect):
    assert effect["gradient ratio"] == pytest.approx(1 / 10.0, rel=1e-3)


def test_a_layer_with_no_batchnorm_after_it_is_refused(first_digits):
    keras.utils.set_random_seed(0)
    plain = build_functional(normalization=WITHOUT_NORMALIZATION)
    with pytest.raises(ValueError, match="No BatchNormalization after"):
        scale_effect(plain, "dense", 10.0, *first_digits)


def test_scale_effect_leaves_the_model_as_it_was(briefly_trained, first_digits):
    before = [keras.ops.convert_to_numpy(v.value) for v in briefly_trained.variables]
    scale_effect(briefly_trained, "dense", 3.0, *first_digits)
    for variable, value in zip(briefly_trained.variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable.value), value)


@pytest.mark.parametrize("factor", [0.0, -2.0, float("inf")])
def test_a_factor_that_is_not_positive_is_refused(briefly_trained, factor):
    with pytest.raises(ValueError, match="positive number"):
        scaled_copy(briefly_trained, "dense", factor)


def test_an_unknown_layer_is_refused_with_the_layers_listed(briefly_trained):
    with pytest.raises(ValueError, match="its layers are"):
        scaled_copy(briefly_trained, "dense_1", 2.0)


def test_a_layer_without_weights_is_refused_with_what_to_pick(briefly_trained):
    with pytest.raises(ValueError, match="pick the Dense or Conv2D"):
        scaled_copy(briefly_trained, "pool", 2.0)
