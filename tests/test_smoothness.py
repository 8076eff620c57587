"""Noise after BatchNormalization, and the loss along the gradient: measured, and the model left as it was."""

import keras
import numpy as np
import pytest

from utils import WITH_BATCHNORM, WITHOUT_BATCHNORM, BatchNoise, loss_along_gradient, smoothness_runs


def test_batch_noise_is_the_identity_in_inference_mode():
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    assert np.array_equal(keras.ops.convert_to_numpy(BatchNoise(seed=0)(x, training=False)), x)


def test_batch_noise_draws_a_new_mean_and_scale_at_every_training_call():
    x = np.zeros((256, 4), "float32")
    noise = BatchNoise(shift=1.0, scale=2.0, seed=0)
    first, second = (keras.ops.convert_to_numpy(noise(x, training=True)) for _ in range(2))
    assert not np.allclose(first.mean(axis=0), second.mean(axis=0), atol=0.05)
    assert np.all(np.abs(first.mean(axis=0)) < 1.0 + 0.3)


def test_batch_noise_refuses_a_scale_below_one():
    with pytest.raises(ValueError, match="scale >= 1"):
        BatchNoise(scale=0.5)


def test_the_loss_along_the_gradient_leaves_the_model_as_it_was(briefly_trained, first_digits):
    before = [keras.ops.convert_to_numpy(v.value) for v in briefly_trained.variables]
    loss_along_gradient(briefly_trained, *first_digits, step_sizes=[0.1, 1.0])
    after = [keras.ops.convert_to_numpy(v.value) for v in briefly_trained.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_no_step_means_no_gradient_change_since_dropout_keeps_its_mask(briefly_trained, first_digits):
    along = loss_along_gradient(briefly_trained, *first_digits, step_sizes=[0.0, 0.1])
    assert along["gradient change"].iloc[0] == 0
    assert along["gradient change"].iloc[1] > 0


def test_a_small_step_along_minus_the_gradient_lowers_the_loss(briefly_trained, first_digits):
    along = loss_along_gradient(briefly_trained, *first_digits, step_sizes=[0.0, 1e-3])
    assert along["loss"].iloc[1] < along["loss"].iloc[0]


def test_smoothness_runs_measure_every_model_seed_and_checkpoint(first_digits):
    x, y = first_digits
    table = smoothness_runs((x, y), 0.1, seeds=[0, 1], step_sizes=[0.1], steps=1, every=1, batch_size=16,
                            probe=32, progress=None)
    assert len(table) == 2 * 2 * 2
    assert set(table["model"]) == {WITH_BATCHNORM, WITHOUT_BATCHNORM}
    assert not table.duplicated(["model", "seed", "step"]).any()


def test_smoothness_runs_refuse_one_seed(first_digits):
    with pytest.raises(ValueError, match="at least 2 seeds"):
        smoothness_runs(first_digits, 0.1, seeds=[0], step_sizes=[0.1], steps=1, every=1, probe=32, progress=None)
