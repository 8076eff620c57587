"""The behaviour matrix, checked against what notebook 01 measures and teaches."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from utils import (
    CALLS,
    SCENARIOS,
    TrainingProbe,
    augmentation_before_base,
    backend_behaviour_matrix,
    behaviour_matrix,
    construction_time_value_wins,
    legacy_behaviour_matrix,
)
from utils.compat import fit_overrides_construction_time_training

CONTRACT_KEYS = {"keras_version", "backend", "scenario", "call", "probe_training", "bn_updated",
                 "bn_used_batch_stats", "dropout_active"}
STYLES = ["sequential", "functional", "subclassed"]
# Notebook 01, measured on 3.13, 3.15 and a 3.16 nightly: Keras 3.0 to 3.15 let fit override a
# construction-time `training=`; the development branch after 3.15.1 does not (keras-team/keras#20285).
KERAS_OVERRIDES = fit_overrides_construction_time_training()


def by_key(rows):
    return {(row["scenario"], row["call"]): row for row in rows}


@pytest.fixture(scope="module")
def matrix():
    return by_key(behaviour_matrix())


@pytest.fixture(scope="module")
def legacy_matrix():
    return by_key(legacy_behaviour_matrix(["functional_built_training_false",
                                           "nested_base_training_false"], ["fit", "predict"]))


def test_matrix_has_one_row_per_scenario_and_call_with_the_contract_keys(matrix):
    assert set(matrix) == {(s, c) for s in SCENARIOS for c in CALLS}
    assert all(set(row) >= CONTRACT_KEYS for row in matrix.values())
    assert {row["keras_version"] for row in matrix.values()} == {keras.__version__}


@pytest.mark.parametrize("style", STYLES)
def test_fit_passes_training_true_in_every_model_style(matrix, style):
    assert matrix[style, "fit"]["probe_training"] is True


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("call", ["evaluate", "predict"])
def test_evaluate_and_predict_pass_training_false(matrix, style, call):
    assert matrix[style, call]["probe_training"] is False


@pytest.mark.parametrize("style", STYLES)
def test_plain_call_passes_none_which_means_inference(matrix, style):
    row = matrix[style, "call"]
    assert row["probe_training"] is None
    assert not (row["bn_used_batch_stats"] or row["bn_updated"] or row["dropout_active"])


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("call,value", [("call_training_true", True), ("call_training_false", False)])
def test_explicit_training_argument_reaches_the_layers(matrix, style, call, value):
    assert matrix[style, call]["probe_training"] is value


def test_layer_without_training_argument_still_switches_its_inner_batchnorm(matrix):
    row = matrix["custom_layer_without_training_arg", "fit"]
    assert row["probe_training"] is True and row["bn_updated"] and row["dropout_active"]


@pytest.mark.parametrize("call", CALLS)
def test_frozen_batchnorm_never_uses_batch_statistics_nor_updates(matrix, call):
    row = matrix["nested_base_frozen", call]
    assert not row["bn_used_batch_stats"] and not row["bn_updated"]


def test_trainable_batchnorm_and_dropout_follow_the_training_value_they_receive(matrix):
    for (scenario, call), row in matrix.items():
        training = row["probe_training"] is True
        assert row["dropout_active"] == training, (scenario, call)
        if scenario != "nested_base_frozen":
            assert row["bn_used_batch_stats"] == row["bn_updated"] == training, (scenario, call)


def test_fit_overrides_construction_time_training_false_exactly_on_keras_3_to_3_15(matrix):
    assert construction_time_value_wins(list(matrix.values())) is not KERAS_OVERRIDES
    assert matrix["nested_base_training_false", "fit"]["bn_updated"] is KERAS_OVERRIDES


def test_predict_ignores_construction_time_training_true_exactly_on_keras_3_to_3_15(matrix):
    assert matrix["functional_built_training_true", "predict"]["dropout_active"] is not KERAS_OVERRIDES


def test_plain_call_falls_back_to_the_construction_time_value(matrix):
    assert matrix["functional_built_training_true", "call"]["dropout_active"] is True
    assert matrix["functional_built_training_false", "call"]["probe_training"] is False


def test_keras_2_keeps_construction_time_training_false_under_fit(legacy_matrix):
    assert all(row["keras_version"].startswith("2.") for row in legacy_matrix.values())
    assert construction_time_value_wins(list(legacy_matrix.values())) is True
    assert legacy_matrix["nested_base_training_false", "fit"]["bn_updated"] is False


def test_unknown_scenario_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="choose from .*'sequential'"):
        behaviour_matrix(["sequentail"])


def test_unknown_call_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="choose from .*'predict'"):
        behaviour_matrix(calls=["predcit"])


def test_probe_reports_the_value_of_its_last_call():
    probe = TrainingProbe()
    x = np.zeros((2, 3), "float32")
    seen = []
    for training in (True, None, False):
        probe(x, training=training)
        seen.append(probe.received)
    assert seen == [True, None, False]


def test_probe_read_before_any_call_says_so():
    probe = TrainingProbe()
    probe.build((2, 3))
    with pytest.raises(RuntimeError, match="not been called"):
        _ = probe.received


def test_command_prints_the_matrix_as_a_json_list():
    done = subprocess.run(
        [sys.executable, "-m", "utils.probes", "--scenario", "functional", "--call", "fit"],
        capture_output=True, text=True, check=True,
    )
    rows = json.loads(done.stdout)
    assert len(rows) == 1 and set(rows[0]) >= CONTRACT_KEYS
    assert rows[0]["probe_training"] is True


def test_predict_after_random_flip_flips_nothing_and_leaves_batchnorm_alone():
    for base_training in (None, False):
        predicted = augmentation_before_base(base_training)["predict"]
        assert predicted == {"flipped": False, "base_training": False, "bn_updated": False}


def test_a_plain_call_after_random_flip_flips_and_trains_batchnorm_only_where_the_default_leaks(keras_overrides):
    called = augmentation_before_base(None)["call"]
    assert called["flipped"]
    # The leak (fixed after 3.15.1) comes with the same releases that override a construction-time value.
    assert called["bn_updated"] == keras_overrides == (called["base_training"] is True)
    assert not augmentation_before_base(False)["call"]["bn_updated"]


def test_the_keras_2_measurement_loads_only_the_probes_and_numpy_helpers():
    code = ("import sys, utils.probes.keras_choice as choice; "
            "print(choice.keras.__version__); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('utils'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "TRAINING_LAB_KERAS": "tf_keras"})
    version, modules = done.stdout.splitlines()
    assert version.startswith("2.")
    helpers = {"utils", "utils.arithmetic", "utils.backends", "utils.data", "utils.quiet"}
    assert all(module.startswith("utils.probes") or module in helpers for module in modules.split())


def test_the_other_backend_measures_the_same_matrix(matrix):
    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    rows = backend_behaviour_matrix(other)
    assert {row["backend"] for row in rows} == {other}
    effects = ("probe_training", "bn_updated", "bn_used_batch_stats", "dropout_active")
    differences = [(key, effect) for key, row in by_key(rows).items() for effect in effects
                   if row[effect] != matrix[key][effect]]
    assert differences == []


def test_an_unknown_backend_is_refused_with_the_ones_tested():
    with pytest.raises(ValueError, match="tensorflow"):
        backend_behaviour_matrix("torch")
