import keras
import pytest

from utils import STAYS_FROZEN, STILL_CHANGES, effects_table, next_fit_after_freezing, one_step


def test_a_frozen_batchnorm_runs_in_inference_mode_even_under_training_true():
    layers, _ = one_step({"batchnorm": False}, training=True)
    assert layers.loc["batchnorm", "ran in"] == "inference mode"
    assert not layers.loc["batchnorm", "moving statistics changed"]


def test_a_frozen_dense_keeps_its_weights_while_dropout_still_drops():
    layers, _ = one_step({"dense": False}, training=True)
    assert not layers.loc["dense", "weights changed"]
    assert layers.loc["dropout", "ran in"] == "training mode"


def test_training_none_in_a_step_runs_batchnorm_and_dropout_in_inference_mode():
    layers, _ = one_step({}, training=None)
    assert layers.loc["batchnorm", "ran in"] == "inference mode"
    assert layers.loc["dropout", "ran in"] == "inference mode"


def test_with_everything_frozen_a_step_changes_nothing():
    layers, output_changed = one_step({name: False for name in
                                       ("dense", "dropout", "batchnorm", "output")}, training=True)
    assert not layers["weights changed"].any() and not output_changed


def test_one_step_with_an_unknown_layer_lists_the_layers():
    with pytest.raises(ValueError, match=r"the layers are \['dense'"):
        one_step({"dense_1": False}, training=True)


def test_the_effects_table_covers_every_freeze_and_training_value():
    table = effects_table()
    assert len(table) == 4 * 3
    assert table.loc[("BatchNormalization frozen", "True"), "BN ran in"] == "inference mode"


def test_freezing_before_the_first_fit_is_respected_without_compiling_again():
    assert next_fit_after_freezing(fit_before=False, compile_again=False) == STAYS_FROZEN


def test_freezing_after_a_fit_is_respected_once_compiled_again():
    assert next_fit_after_freezing(fit_before=True, compile_again=True) == STAYS_FROZEN


def test_freezing_after_a_fit_without_compiling_again_is_ignored_on_tensorflow_and_refused_on_jax():
    # Measured on Keras 3.13.2, 3.15.1 and 3.16.0.dev. If a release changes this,
    # notebook 04 words its lesson from the new measurement.
    expected = {"tensorflow": STILL_CHANGES, "jax": "fit raises ValueError"}[keras.backend.backend()]
    assert next_fit_after_freezing(fit_before=True, compile_again=False) == expected
