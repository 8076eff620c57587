"""One example's output and gradient as its batch-mates change, in each mode."""

import keras
import numpy as np
import pytest

from utils import WITHOUT_NORMALIZATION, build_functional, cross_gradient, output_in_batch


def test_in_training_mode_the_same_image_gets_another_output_in_another_batch(briefly_trained, first_digits):
    x, _ = first_digits
    first, second = (output_in_batch(briefly_trained, x[0], mates, training=True) for mates in (x[1:9], x[9:17]))
    assert np.abs(first - second).max() > 1e-4


def test_in_inference_mode_the_same_image_gets_the_same_output_in_any_batch(briefly_trained, first_digits):
    x, _ = first_digits
    first, second = (output_in_batch(briefly_trained, x[0], mates, training=False) for mates in (x[1:9], x[9:17]))
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_a_call_leaves_the_moving_statistics_as_they_were(briefly_trained, first_digits):
    before = [keras.ops.convert_to_numpy(v.value) for v in briefly_trained.non_trainable_variables]
    output_in_batch(briefly_trained, first_digits[0][0], first_digits[0][1:9], training=True)
    for variable, value in zip(briefly_trained.non_trainable_variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable.value), value)


def test_another_example_moves_the_output_in_training_mode(briefly_trained, first_digits):
    assert cross_gradient(briefly_trained, first_digits[0][:16], source=3, target=0, training=True) > 0


def test_another_example_cannot_move_the_output_in_inference_mode(briefly_trained, first_digits):
    assert cross_gradient(briefly_trained, first_digits[0][:16], source=3, target=0, training=False) == 0.0


def test_without_batchnorm_no_example_moves_another_even_in_training_mode(first_digits):
    keras.utils.set_random_seed(0)
    model = build_functional(normalization=WITHOUT_NORMALIZATION)
    assert cross_gradient(model, first_digits[0][:16], source=3, target=0, training=True) == 0.0


def test_an_example_moves_its_own_output_in_both_modes(briefly_trained, first_digits):
    assert min(cross_gradient(briefly_trained, first_digits[0][:16], source=0, target=0, training=training)
               for training in (True, False)) > 0


def test_an_index_outside_the_batch_is_refused_with_the_valid_range(briefly_trained, first_digits):
    with pytest.raises(ValueError, match="from 0 to 15"):
        cross_gradient(briefly_trained, first_digits[0][:16], source=16, target=0, training=True)
