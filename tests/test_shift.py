"""utils.corrupt, the batch-statistics layers and the data-shift checkers, on real digits and real Keras layers."""

import keras
import numpy as np
import pytest

import utils
from utils import (
    CORRUPTIONS,
    BatchStatistics,
    SplitBatchNormalization,
    build_functional,
    build_subclassed,
    check_adapt_on_copy,
    check_recalibrate_on_target,
    copy_model,
    corrupt,
    moved_layers,
    moving_statistics,
    normalization_batch_sizes,
    recalibrate_batchnorm,
    with_batch_statistics,
)


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corruption_keeps_the_shape_dtype_and_value_range_and_changes_the_images(first_digits, kind):
    images = first_digits[0]
    corrupted = corrupt(images, kind, 3)
    assert corrupted.shape == images.shape and corrupted.dtype == images.dtype
    assert corrupted.min() >= images.min() and corrupted.max() <= images.max()
    assert not np.array_equal(corrupted, images)


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corruption_is_the_same_for_the_same_seed(first_digits, kind):
    assert np.array_equal(corrupt(first_digits[0], kind, 2, seed=4), corrupt(first_digits[0], kind, 2, seed=4))


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_higher_severity_moves_the_images_further(first_digits, kind):
    images = first_digits[0]
    distance = [np.abs(corrupt(images, kind, severity) - images).mean() for severity in (1, 5)]
    assert distance[1] > distance[0]


def test_noise_differs_from_one_seed_to_another(first_digits):
    assert not np.array_equal(corrupt(first_digits[0], "gaussian noise", 1, seed=0),
                              corrupt(first_digits[0], "gaussian noise", 1, seed=1))


def test_corrupt_leaves_its_input_as_it_was(first_digits):
    images = first_digits[0].copy()
    corrupt(images, "inversion", 5)
    assert np.array_equal(images, first_digits[0])


def test_an_unknown_corruption_is_refused_with_the_known_ones(first_digits):
    with pytest.raises(ValueError, match="choose one of"):
        corrupt(first_digits[0], "fog", 1)


@pytest.mark.parametrize("severity", [0, 6, 2.5, True])
def test_a_severity_outside_one_to_five_is_refused(first_digits, severity):
    with pytest.raises(ValueError, match="from 1 to 5"):
        corrupt(first_digits[0], "blur", severity)


def test_a_single_image_without_a_batch_axis_is_refused_with_the_fix(first_digits):
    with pytest.raises(ValueError, match=r"image\[None\]"):
        corrupt(first_digits[0][0], "blur", 1)


def test_non_finite_images_are_refused(first_digits):
    images = first_digits[0].copy()
    images[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        corrupt(images, "contrast", 1)


@pytest.mark.parametrize("group_size", [1, 5, 16, None])
def test_batch_statistics_equal_batchnormalization_in_training_mode_on_each_batch(group_size):
    rng = np.random.default_rng(0)
    x = (3 + 2 * rng.standard_normal((40, 6, 6, 4))).astype("float32")
    reference = keras.layers.BatchNormalization()
    reference.build(x.shape)
    reference.gamma.assign(rng.uniform(0.5, 2, 4).astype("float32"))
    reference.beta.assign(rng.normal(size=4).astype("float32"))
    layer = BatchStatistics(group_size=group_size)
    layer.build(x.shape)
    layer.set_weights(reference.get_weights())
    step = group_size or len(x)
    expected = np.concatenate([keras.ops.convert_to_numpy(reference(x[i:i + step], training=True))
                               for i in range(0, len(x), step)])
    assert np.abs(keras.ops.convert_to_numpy(layer(x)) - expected).max() < 1e-4


def test_batch_statistics_update_no_moving_statistics():
    x = np.random.default_rng(0).normal(5, 3, (32, 8)).astype("float32")
    layer = BatchStatistics(group_size=8)
    layer.build(x.shape)
    layer(x, training=True)
    assert np.array_equal(keras.ops.convert_to_numpy(layer.moving_mean), np.zeros(8))
    assert np.array_equal(keras.ops.convert_to_numpy(layer.moving_variance), np.ones(8))


def test_with_batch_statistics_leaves_the_model_exactly_as_it_was(briefly_trained, first_digits):
    before = moving_statistics(briefly_trained)
    weights = [w.copy() for w in briefly_trained.get_weights()]
    with_batch_statistics(briefly_trained, 8).predict(first_digits[0], batch_size=64, verbose=0)
    assert moved_layers(briefly_trained, before) == []
    assert all(np.array_equal(a, b) for a, b in zip(weights, briefly_trained.get_weights()))


def test_batches_of_one_give_every_image_the_same_answer_after_a_dense_layer(briefly_trained, first_digits):
    answers = np.argmax(keras.ops.convert_to_numpy(with_batch_statistics(briefly_trained, 1)(first_digits[0])), axis=-1)
    assert len(np.unique(answers)) == 1


def test_with_batch_statistics_refuses_a_model_without_batchnormalization():
    with pytest.raises(ValueError, match="no BatchNormalization"):
        with_batch_statistics(build_functional(normalization=utils.WITHOUT_NORMALIZATION))


def test_with_batch_statistics_refuses_a_subclassed_model_and_names_the_fix(first_digits):
    model = build_subclassed()
    model(first_digits[0][:2])
    with pytest.raises(ValueError, match="Sequential or Functional"):
        with_batch_statistics(model)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_with_batch_statistics_refuses_a_batch_size_below_one(briefly_trained, batch_size):
    with pytest.raises(ValueError, match="at least 1"):
        with_batch_statistics(briefly_trained, batch_size)


def test_split_batchnormalization_moves_toward_the_mean_of_its_groups_statistics():
    x = np.concatenate([np.full((4, 3), 1.0), np.full((4, 3), 5.0)]).astype("float32")
    layer = SplitBatchNormalization(group_size=4, momentum=0.0)
    layer.build(x.shape)
    output = keras.ops.convert_to_numpy(layer(x, training=True))
    # Each group is constant: its own statistics make it zero; their mean of means is 3, of variances 0.
    assert np.abs(output).max() < 1e-5
    assert np.allclose(keras.ops.convert_to_numpy(layer.moving_mean), 3.0)
    assert np.allclose(keras.ops.convert_to_numpy(layer.moving_variance), 0.0)


def test_split_batchnormalization_runs_on_its_moving_statistics_in_inference_mode():
    x = np.random.default_rng(0).normal(5, 3, (8, 3)).astype("float32")
    layer = SplitBatchNormalization(group_size=4)
    layer.build(x.shape)
    assert np.allclose(keras.ops.convert_to_numpy(layer(x, training=False)), x / np.sqrt(1 + layer.epsilon),
                       atol=1e-5)


def test_normalization_batch_sizes_refuses_groups_that_do_not_split_the_batch(first_digits):
    with pytest.raises(ValueError, match="divisors of 32"):
        normalization_batch_sizes(first_digits, first_digits, [3], [0], batch_size=32)


def test_recalibrating_a_copy_on_shifted_images_leaves_the_original(briefly_trained, first_digits):
    before = moving_statistics(briefly_trained)
    recalibrate_batchnorm(copy_model(briefly_trained), corrupt(first_digits[0], "contrast", 3))
    assert moved_layers(briefly_trained, before) == []


def test_the_adapt_checker_refuses_training_mode_calls_on_the_model_in_use():
    def adapt(model, x_shifted):
        model(x_shifted, training=True)
        return model

    report = check_adapt_on_copy(adapt)
    assert not report.passed and "copy" in str(report)


def test_the_adapt_checker_passes_a_recalibrated_copy():
    def adapt(model, x_shifted):
        adapted = copy_model(model)
        recalibrate_batchnorm(adapted, x_shifted)
        return adapted

    assert check_adapt_on_copy(adapt).passed


def test_the_target_checker_refuses_statistics_of_the_training_inputs():
    def adapt(model, x_train, x_shifted):
        adapted = copy_model(model)
        recalibrate_batchnorm(adapted, x_train)
        return adapted

    report = check_recalibrate_on_target(adapt)
    assert not report.passed and "training inputs" in str(report)


def test_normalization_batch_sizes_scores_every_group_size_three_ways_from_one_compiled_model(first_digits):
    table = normalization_batch_sizes(first_digits, first_digits, [2, 4], [0, 1], epochs=1, batch_size=8, scored=32,
                                      progress=lambda note: None)
    assert len(table) == 2 * 2 * 3
    assert table["accuracy"].between(0, 1).all()
