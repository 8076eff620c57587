import keras
import numpy as np
import pytest

from utils import (
    DROPPED,
    GUIDE_AFTER,
    GUIDE_BEFORE,
    GUIDE_LOOPS,
    SEED_ONLY,
    SEED_STATE,
    build_functional,
    changed_by_call,
    dropout_masks,
    guide_loop_outcomes,
    load_mnist_subset,
    moved_layers,
    moving_statistics,
    seed_everything,
    train_and_track,
    train_as_guide,
    uses_batch_statistics,
    variables_as_state_error,
)
from utils.loops import RECALIBRATED


@pytest.fixture(scope="module")
def digits():
    (x, y), (x_test, y_test) = load_mnist_subset()
    return (x[:320], y[:320]), (x_test[:100], y_test[:100])


def run(method, digits):
    train, test = digits
    model = build_functional()
    curve = train_and_track(model, method, train, test, epochs=1, every=5)
    return model, curve


def test_a_loop_calling_model_x_never_updates_the_moving_statistics(digits):
    model, _ = run("loop with model(x)", digits)
    bn = model.get_layer("batchnorm")
    assert np.all(bn.moving_mean.numpy() == 0) and np.all(bn.moving_variance.numpy() == 1)


def test_a_loop_with_training_true_updates_the_moving_statistics(digits):
    model, _ = run("loop with model(x, training=True)", digits)
    assert not np.all(model.get_layer("batchnorm").moving_mean.numpy() == 0)


def test_train_and_track_measures_before_training_and_every_few_steps(digits):
    _, curve = run("loop with model(x)", digits)
    assert list(curve["step"]) == [0, 5, 10]
    assert curve["test accuracy"].between(0, 1).all()


@pytest.mark.parametrize("method", ["fit", "loop with model(x, training=True)"])
def test_train_and_track_can_also_score_recalibrated_statistics_without_changing_the_training(digits, method):
    train, test = digits
    keras.utils.set_random_seed(0)
    plain = build_functional()
    keras.utils.set_random_seed(0)
    scored = build_functional()
    train_and_track(plain, method, train, test, epochs=1, every=5)
    curve = train_and_track(scored, method, train, test, epochs=1, every=5, recalibrate_on=train[0])
    assert list(curve.columns) == ["step", "test accuracy", RECALIBRATED]
    assert curve[RECALIBRATED].between(0, 1).all()
    for name, (mean, variance) in moving_statistics(plain).items():
        np.testing.assert_allclose(moving_statistics(scored)[name][0], mean, atol=1e-6)
        np.testing.assert_allclose(moving_statistics(scored)[name][1], variance, atol=1e-6)


def test_an_unknown_method_lists_the_methods(digits):
    with pytest.raises(ValueError, match="the methods are"):
        run("eager", digits)


on_jax = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the keras.io JAX guide's loop runs on JAX")


def guide_run(training, carry, digits):
    (x, y), _ = digits
    seed_everything(0)
    model = build_functional()
    before = moving_statistics(model)
    train_as_guide(model, x, y, training, carry)
    return model, before


@on_jax
def test_the_guide_s_loop_without_training_never_moves_the_moving_statistics(digits):
    model, before = guide_run(False, True, digits)
    assert moved_layers(model, before) == []


@on_jax
def test_the_guide_s_loop_with_training_true_updates_the_moving_statistics(digits):
    model, before = guide_run(True, True, digits)
    assert moved_layers(model, before) == ["batchnorm"]


@on_jax
def test_the_guide_s_loop_trains_the_weights_and_assigns_them_back(digits):
    model, _ = guide_run(False, True, digits)
    seed_everything(0)
    untrained = build_functional()
    assert not np.array_equal(model.get_layer("dense").kernel.numpy(), untrained.get_layer("dense").kernel.numpy())


@on_jax
def test_dropping_the_returned_values_leaves_the_moving_statistics_where_they_started(digits):
    model, before = guide_run(True, False, digits)
    assert moved_layers(model, before) == []


@on_jax
def test_carrying_only_the_seed_state_leaves_the_moving_statistics_and_moves_the_seed(digits):
    model, before = guide_run(True, SEED_STATE, digits)
    assert moved_layers(model, before) == []
    seed_everything(0)
    untrained = build_functional()
    seed = next(v for v in model.non_trainable_variables if v.path.endswith(SEED_STATE))
    start = next(v for v in untrained.non_trainable_variables if v.path.endswith(SEED_STATE))
    assert not np.array_equal(np.asarray(seed.value), np.asarray(start.value))


@on_jax
def test_carrying_a_path_no_variable_has_is_refused_with_the_paths(digits):
    with pytest.raises(ValueError, match="matches none of the model's non-trainable variables"):
        guide_run(True, "no_such_variable", digits)


@on_jax
def test_the_guide_s_state_of_variables_is_refused_by_the_jitted_step_here(digits):
    (x, y), _ = digits
    # Why run_guide_loop puts the variables' values in the state, not the variables.
    assert "__jax_array__" in variables_as_state_error(build_functional(), x[:32], y[:32])


@on_jax
def test_a_call_without_training_true_changes_no_non_trainable_value(digits):
    (x, _), _ = digits
    assert changed_by_call(build_functional(), x[:32], training=False) == []


@on_jax
def test_a_call_with_training_true_advances_the_seed_state_and_the_moving_statistics(digits):
    (x, _), _ = digits
    changed = changed_by_call(build_functional(), x[:32], training=True)
    assert [path.split("/")[-1] for path in changed] == ["seed_generator_state", "moving_mean", "moving_variance"]
    assert changed[1:] == ["batchnorm/moving_mean", "batchnorm/moving_variance"]


@on_jax
def test_not_carrying_the_state_repeats_dropout_s_mask_and_carrying_draws_a_new_one(digits):
    (x, _), _ = digits
    model = build_functional()
    repeated, carried = dropout_masks(model, x[:32], carry=False), dropout_masks(model, x[:32], carry=True)
    assert repeated[0].any() and np.array_equal(repeated[0], repeated[1])
    assert not np.array_equal(carried[0], carried[1])


@on_jax
def test_batchnorm_uses_batch_statistics_only_when_the_call_passes_training_true(digits):
    (x, _), _ = digits
    model = build_functional()
    assert uses_batch_statistics(model, x[:32], training=True)
    assert not uses_batch_statistics(model, x[:32], training=False)


@on_jax
def test_guide_loop_outcomes_gives_each_loop_its_flags_and_test_accuracy():
    outcomes = guide_loop_outcomes(seed=1, train_size=64)
    assert list(outcomes) == list(GUIDE_LOOPS)
    assert outcomes[GUIDE_AFTER]["moving statistics updated"] == 1.0
    assert outcomes[GUIDE_BEFORE]["batch statistics used"] == 0.0
    for mistake in (DROPPED, SEED_ONLY):
        flags = {key: outcomes[mistake][key] for key in ("moving statistics updated", "batch statistics used")}
        assert flags == {"moving statistics updated": 0.0, "batch statistics used": 1.0}
    assert all(0 <= outcome["test accuracy"] <= 1 for outcome in outcomes.values())


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="on JAX the loop runs")
def test_the_guide_s_loop_says_it_needs_jax(digits):
    (x, y), _ = digits
    with pytest.raises(NotImplementedError, match="KERAS_BACKEND=jax"):
        train_as_guide(build_functional(), x, y, training=True)
