import json

import keras
import numpy as np
import pytest

from utils import (
    GUIDE_STEP,
    NO_TRAINING_STEP,
    RECORDER,
    STALE_STATE_STEP,
    STEP_VARIANTS,
    load_mnist_subset,
    moved_layers,
    moving_statistics,
    overridden_step_model,
    overridden_step_outcomes,
    recorder_overhead,
    seed_everything,
)


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = load_mnist_subset()
    return x[:256], y[:256]


def fit_variant(variant, digits):
    seed_everything(0)
    model = overridden_step_model(variant)
    before = moving_statistics(model)
    model.fit(*digits, batch_size=32, epochs=1, verbose=0)
    return model, before


def test_the_guide_s_train_step_updates_the_moving_statistics(digits):
    model, before = fit_variant(GUIDE_STEP, digits)
    assert moved_layers(model, before) == ["batchnorm"]


def test_a_train_step_without_training_leaves_the_moving_statistics(digits):
    model, before = fit_variant(NO_TRAINING_STEP, digits)
    assert moved_layers(model, before) == []


def test_the_guide_s_train_step_trains_the_weights(digits):
    model, _ = fit_variant(GUIDE_STEP, digits)
    seed_everything(0)
    untrained = overridden_step_model(GUIDE_STEP)
    assert not np.array_equal(model.get_layer("dense").kernel.numpy(),
                              untrained.get_layer("dense").kernel.numpy())


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only a JAX step returns the model's state")
def test_a_jax_train_step_returning_the_old_state_leaves_the_moving_statistics(digits):
    model, before = fit_variant(STALE_STATE_STEP, digits)
    assert moved_layers(model, before) == []


def test_overridden_step_outcomes_says_per_variant_whether_fit_moved_the_statistics():
    moved = overridden_step_outcomes(train_size=32)
    assert list(moved) == list(STEP_VARIANTS[keras.backend.backend()])
    assert moved[GUIDE_STEP] and not any(value for variant, value in moved.items() if variant != GUIDE_STEP)


def test_each_backend_has_its_own_train_step_variants():
    assert STEP_VARIANTS["tensorflow"] == (GUIDE_STEP, NO_TRAINING_STEP)
    assert STEP_VARIANTS["jax"] == (GUIDE_STEP, NO_TRAINING_STEP, STALE_STATE_STEP)


def test_an_unknown_train_step_variant_lists_the_variants():
    with pytest.raises(ValueError, match="choose from"):
        overridden_step_model("training=False")


def test_recorder_overhead_gives_one_ratio_per_pair_as_json():
    result = recorder_overhead([RECORDER], pairs=1, epochs=1)
    assert json.loads(json.dumps(result)) == result
    assert len(result["ratios"][RECORDER]) == 1 and result["ratios"][RECORDER][0] > 0
    assert result["backend"] == keras.backend.backend()


def test_recorder_overhead_rejects_an_unknown_variant():
    with pytest.raises(ValueError, match="Unknown variants"):
        recorder_overhead(["TensorBoard"], pairs=1, epochs=1)


def test_a_bias_before_batchnorm_in_training_mode_gets_no_gradient(digits):
    from utils import build_functional, gradients

    seed_everything(0)
    model = build_functional(before_activation=True)
    found = gradients(model, digits[0][:64], digits[1][:64])
    dense = model.get_layer("dense")
    assert np.abs(found[dense.bias.path]).max() < 1e-6 * np.abs(found[dense.kernel.path]).max()
