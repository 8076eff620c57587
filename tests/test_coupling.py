"""One example's output and gradient as its batch-mates change, in each mode."""

import keras
import numpy as np
import pytest

from utils import WITHOUT_NORMALIZATION, build_functional, cross_gradient, load_mnist_subset, output_in_batch


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = load_mnist_subset()
    return x[:64], y[:64]


@pytest.fixture(scope="module")
def trained(digits):
    keras.utils.set_random_seed(0)
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(*digits, batch_size=16, epochs=1, verbose=0)
    return model


def test_in_training_mode_the_same_image_gets_another_output_in_another_batch(trained, digits):
    x, _ = digits
    first, second = (output_in_batch(trained, x[0], mates, training=True) for mates in (x[1:9], x[9:17]))
    assert np.abs(first - second).max() > 1e-4


def test_in_inference_mode_the_same_image_gets_the_same_output_in_any_batch(trained, digits):
    x, _ = digits
    first, second = (output_in_batch(trained, x[0], mates, training=False) for mates in (x[1:9], x[9:17]))
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_a_call_leaves_the_moving_statistics_as_they_were(trained, digits):
    before = [keras.ops.convert_to_numpy(v.value) for v in trained.non_trainable_variables]
    output_in_batch(trained, digits[0][0], digits[0][1:9], training=True)
    for variable, value in zip(trained.non_trainable_variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable.value), value)


def test_another_example_moves_the_output_in_training_mode(trained, digits):
    assert cross_gradient(trained, digits[0][:16], source=3, target=0, training=True) > 0


def test_another_example_cannot_move_the_output_in_inference_mode(trained, digits):
    assert cross_gradient(trained, digits[0][:16], source=3, target=0, training=False) == 0.0


def test_without_batchnorm_no_example_moves_another_even_in_training_mode(digits):
    keras.utils.set_random_seed(0)
    model = build_functional(normalization=WITHOUT_NORMALIZATION)
    assert cross_gradient(model, digits[0][:16], source=3, target=0, training=True) == 0.0


def test_an_example_moves_its_own_output_in_both_modes(trained, digits):
    assert min(cross_gradient(trained, digits[0][:16], source=0, target=0, training=training)
               for training in (True, False)) > 0


def test_an_index_outside_the_batch_is_refused_with_the_valid_range(trained, digits):
    with pytest.raises(ValueError, match="from 0 to 15"):
        cross_gradient(trained, digits[0][:16], source=16, target=0, training=True)
