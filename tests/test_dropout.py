import keras
import numpy as np
import pytest

from utils import (
    MCDropout,
    build_functional,
    build_sequential,
    build_subclassed,
    confidence_runs,
    leak_runs,
    least_sure_errors,
    load_mnist_subset,
    mc_predict,
    moving_statistics,
    predictive_entropy,
    recalibrated_copy,
    with_mc_dropout,
)
from utils.dropout import (
    AFTER,
    AS_TRAINED,
    BEFORE,
    GAINED,
    GAINED_OTHERS,
    LEAST_SURE,
    LEAST_SURE_BY_SPREAD,
    MONTE_CARLO,
    PASSED,
    RECALIBRATED_DROPPING,
    RECALIBRATED_OFF,
)


@pytest.fixture(scope="module")
def trained():
    (x, y), (x_test, _) = load_mnist_subset()
    keras.utils.set_random_seed(0)
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:256], y[:256], batch_size=32, verbose=0)
    return model, x_test[:64]


def test_mc_dropout_drops_units_in_predict_too():
    model = keras.Sequential([keras.Input((100,)), MCDropout(0.5)])
    first, second = (model.predict(np.ones((4, 100)), verbose=0) for _ in range(2))
    assert (first == 0).any() and not np.array_equal(first, second)


def test_with_mc_dropout_shares_every_layer_but_dropout(trained):
    model, _ = trained
    mc = with_mc_dropout(model)
    kinds = {type(layer).__name__ for layer in mc.layers}
    assert "MCDropout" in kinds and "Dropout" not in kinds
    assert mc.get_layer("batchnorm") is model.get_layer("batchnorm")


def test_with_mc_dropout_works_on_sequential_models():
    assert any(isinstance(layer, MCDropout) for layer in with_mc_dropout(build_sequential()).layers)


def test_mc_predictions_vary_and_leave_moving_statistics_unchanged(trained):
    model, x = trained
    before = moving_statistics(model)
    samples = mc_predict(with_mc_dropout(model), x, samples=3)
    assert samples.shape == (3, len(x), 10)
    assert not np.array_equal(samples[0], samples[1])
    for name, now in moving_statistics(model).items():
        np.testing.assert_array_equal(before[name], now)


def test_training_true_for_mc_dropout_changes_moving_statistics(trained):
    model, x = trained
    before = moving_statistics(model)["batchnorm"]
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone(x, training=True)
    assert not np.array_equal(before[0], clone.get_layer("batchnorm").moving_mean.numpy())


def test_with_mc_dropout_without_dropout_says_to_add_one():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no Dropout layer"):
        with_mc_dropout(model)


def test_with_mc_dropout_on_a_subclassed_model_says_to_use_mc_dropout_layers():
    with pytest.raises(ValueError, match="Use MCDropout instead of Dropout"):
        with_mc_dropout(build_subclassed())


def test_mc_predict_without_mc_dropout_points_to_with_mc_dropout(trained):
    model, x = trained
    with pytest.raises(ValueError, match="with_mc_dropout"):
        mc_predict(model, x)


def test_predictive_entropy_is_zero_when_certain_and_log_k_when_uniform():
    certain = np.array([[[1.0, 0.0, 0.0]]] * 2)
    uniform = np.full((2, 1, 3), 1 / 3)
    assert predictive_entropy(certain)[0] == pytest.approx(0, abs=1e-9)
    assert predictive_entropy(uniform)[0] == pytest.approx(np.log(3))


def test_a_model_with_mc_dropout_saves_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((4,)), MCDropout(0.2), keras.layers.Dense(2)])
    model.save(tmp_path / "mc.keras")
    loaded = keras.models.load_model(tmp_path / "mc.keras")
    assert isinstance(loaded.layers[0], MCDropout)


def dropout_then_batchnorm(rate):
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(8, name="dense")(keras.layers.Dropout(rate, name="dropout")(inputs))
    return keras.Model(inputs, keras.layers.BatchNormalization(name="batchnorm")(hidden))


def test_recalibrated_copy_takes_the_statistics_of_the_inputs_with_dropout_off_and_leaves_the_model():
    keras.utils.set_random_seed(0)
    model = dropout_then_batchnorm(0.5)
    x = np.random.default_rng(0).normal(size=(512, 8)).astype("float32")
    copy = recalibrated_copy(model, x, dropping=False)
    inputs = keras.ops.convert_to_numpy(model.get_layer("dense")(x))
    batchnorm = copy.get_layer("batchnorm")
    np.testing.assert_allclose(batchnorm.moving_mean.numpy(), inputs.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batchnorm.moving_variance.numpy(), inputs.var(axis=0), rtol=1e-4)
    assert np.all(model.get_layer("batchnorm").moving_variance.numpy() == 1)


def test_recalibrated_copy_with_dropout_dropping_holds_dropouts_extra_variance():
    keras.utils.set_random_seed(0)
    model = dropout_then_batchnorm(0.5)
    x = np.random.default_rng(0).normal(size=(2048, 8)).astype("float32")
    dropping, off = (recalibrated_copy(model, x, dropping).get_layer("batchnorm") for dropping in (True, False))
    # Inverted dropout at rate 0.5 doubles each input's second moment: the variance grows, the mean stays.
    assert np.all(dropping.moving_variance.numpy() > 1.5 * off.moving_variance.numpy())
    np.testing.assert_allclose(dropping.moving_mean.numpy(), off.moving_mean.numpy(), atol=0.15)


def test_confidence_runs_scores_four_ways_and_leaves_the_moving_statistics(trained):
    model, x = trained
    (_, _), (_, y_test) = load_mnist_subset()
    (train_x, _), _ = load_mnist_subset()
    before = moving_statistics(model)
    runs = confidence_runs(model, train_x[:256], (x, y_test[:64]), samples=3)
    assert list(runs) == [AS_TRAINED, MONTE_CARLO, RECALIBRATED_DROPPING, RECALIBRATED_OFF]
    for name, scores in runs.items():
        extra = {LEAST_SURE_BY_SPREAD} if name == MONTE_CARLO else set()
        assert set(scores) == {"accuracy", "confidence", LEAST_SURE} | extra and 0 <= scores["confidence"] <= 1
    for name, now in moving_statistics(model).items():
        np.testing.assert_array_equal(before[name], now)


def test_least_sure_errors_is_the_error_rate_of_the_most_uncertain_tenth():
    uncertainty = np.arange(20.0)
    wrong = np.zeros(20, bool)
    wrong[[18, 5]] = True  # one error among the two most uncertain, one elsewhere
    assert least_sure_errors(uncertainty, wrong) == 0.5


def test_least_sure_errors_needs_one_uncertainty_per_example():
    with pytest.raises(ValueError, match="one uncertainty per example"):
        least_sure_errors(np.zeros(20), np.zeros(19, bool))


def test_leak_runs_changes_a_copy_and_counts_the_digits_gained_against_the_model(trained):
    model, _ = trained
    _, (x_test, y_test) = load_mnist_subset()
    x_test, y_test = x_test[:200], y_test[:200]
    before = moving_statistics(model)
    runs = leak_runs(model, x_test, y_test, seed=0, size=100, passes=3)
    assert runs[BEFORE][GAINED] == 0 and runs[BEFORE][GAINED_OTHERS] == 0
    assert runs[AFTER][GAINED] == round((runs[AFTER][PASSED] - runs[BEFORE][PASSED]) * 100)
    for name, now in moving_statistics(model).items():
        np.testing.assert_array_equal(before[name], now)


def test_leak_runs_needs_digits_left_out_as_the_control(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="control"):
        leak_runs(model, np.zeros((10, 28, 28, 1)), np.zeros(10, int), seed=0, size=10)
