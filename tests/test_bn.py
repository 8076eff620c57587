import keras
import numpy as np
import pytest

from utils import (
    BatchNormRecorder,
    batch_statistics,
    batchnorm_reference,
    build_functional,
    compare_modes,
    keep_moving_statistics,
    load_mnist_subset,
    mean_gap,
    small_batch_comparison,
    warmup_curve,
)

FEATURES = 6


def input_batchnorm_model(**compile_args):
    inputs = keras.Input((FEATURES,))
    x = keras.layers.BatchNormalization(name="bn")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse", **compile_args)
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (3.0 + 2.0 * rng.standard_normal((256, FEATURES))).astype("float32")
    return x, rng.standard_normal((256, 1)).astype("float32")


@pytest.mark.parametrize("training", [True, False])
def test_reference_arithmetic_equals_the_layer(data, training):
    x, _ = data
    layer = keras.layers.BatchNormalization()
    layer.build(x.shape)
    layer.moving_mean.assign(np.full(FEATURES, 0.5, "float32"))
    layer.moving_variance.assign(np.full(FEATURES, 2.0, "float32"))
    gamma, beta = np.asarray(layer.gamma), np.asarray(layer.beta)
    mean, variance = batch_statistics(x) if training else (0.5, 2.0)
    expected = batchnorm_reference(x, gamma, beta, mean, variance, layer.epsilon)
    np.testing.assert_allclose(np.asarray(layer(x, training=training)), expected, atol=1e-5)


def test_recorder_recovers_the_true_batch_statistics(data):
    x, y = data
    recorder = BatchNormRecorder()
    input_batchnorm_model().fit(x, y, batch_size=32, shuffle=False, verbose=0, callbacks=[recorder])
    true = [batch_statistics(batch) for batch in np.split(x, len(x) // 32)]
    record = recorder.history["bn"]
    assert record["batch_mean"].shape == (len(true), FEATURES)
    np.testing.assert_allclose(record["batch_mean"], [m for m, _ in true], atol=1e-4)
    np.testing.assert_allclose(record["batch_variance"], [v for _, v in true], atol=1e-4)


@pytest.fixture(scope="module")
def seed_data():
    return load_mnist_subset()


def test_recorder_finds_the_batchnorm_of_the_seed_model(seed_data):
    (x, y), _ = seed_data
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    recorder = BatchNormRecorder()
    model.fit(x[:256], y[:256], batch_size=64, verbose=0, callbacks=[recorder])
    assert recorder.history["batchnorm"]["moving_mean"].shape == (4, 64)
    assert recorder.gap("batchnorm").shape == (4,)


def test_recorder_on_a_model_without_batchnorm_says_so(data):
    x, y = data
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no BatchNormalization layer"):
        model.fit(x, y, verbose=0, callbacks=[BatchNormRecorder()])


def test_recorder_with_an_unknown_layer_name_lists_the_known_ones(data):
    x, y = data
    with pytest.raises(ValueError, match=r"known ones are \['bn'\]"):
        input_batchnorm_model().fit(x, y, verbose=0, callbacks=[BatchNormRecorder(["bm"])])


def test_recorder_refuses_several_steps_per_execution(data):
    x, y = data
    model = input_batchnorm_model(steps_per_execution=4)
    with pytest.raises(ValueError, match="steps_per_execution=1"):
        model.fit(x, y, verbose=0, callbacks=[BatchNormRecorder()])


def test_recorder_refuses_a_frozen_batchnorm_which_has_no_batch_statistics(data):
    x, y = data
    model = input_batchnorm_model()
    model.get_layer("bn").trainable = False
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="inference mode"):
        model.fit(x, y, verbose=0, callbacks=[BatchNormRecorder()])


def test_recorder_refuses_a_batchnorm_that_did_not_update(data):
    x, y = data
    inputs = keras.Input((FEATURES,))
    bn = keras.layers.BatchNormalization(name="bn")
    model = keras.Model(inputs, keras.layers.Dense(1)(bn(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    bn.momentum = 1.0  # a momentum of 1 keeps the moving statistics as they are
    with pytest.raises(ValueError, match="did not update their moving statistics"):
        model.fit(x, y, verbose=0, callbacks=[BatchNormRecorder()])


def test_keep_moving_statistics_undoes_a_training_mode_call(data):
    x, _ = data
    model = input_batchnorm_model()
    before = model.get_layer("bn").moving_mean.numpy()
    with keep_moving_statistics(model):
        model(x, training=True)
        assert not np.array_equal(model.get_layer("bn").moving_mean.numpy(), before)
    np.testing.assert_array_equal(model.get_layer("bn").moving_mean.numpy(), before)


def test_compare_modes_leaves_the_model_unchanged(seed_data):
    (x, y), _ = seed_data
    model = build_functional()
    before = model.get_weights()
    compare_modes(model, x[:64], y[:64], batch_size=16)
    for now, then in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(now, then)


def test_compare_modes_reports_the_inference_accuracy_predict_gives(seed_data):
    (x, y), _ = seed_data
    model = build_functional()
    result = compare_modes(model, x[:64], y[:64], batch_size=16)
    predicted = model.predict(x[:64], verbose=0).argmax(axis=1)
    assert result["inference_accuracy"] == pytest.approx(np.mean(predicted == y[:64]))
    assert 0 <= result["disagreement"] <= 1 and result["training_loss"] > 0


def test_a_batch_of_one_is_normalised_to_beta_whatever_it_holds(data):
    # One example is its own batch mean: training mode maps every input to beta.
    x, _ = data
    layer = keras.layers.BatchNormalization()
    outputs = [np.asarray(layer(x[i:i + 1], training=True)) for i in range(3)]
    for output in outputs:
        np.testing.assert_allclose(output, np.asarray(layer.beta)[None], atol=1e-6)


def test_warmup_curve_measures_before_training_and_every_few_steps(seed_data):
    (x, y), (x_test, y_test) = seed_data
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    curve = warmup_curve(model, (x[:320], y[:320]), (x_test[:64], y_test[:64]),
                         steps=15, every=5, batch_size=32)
    assert list(curve["step"]) == [0, 5, 10, 15]
    assert model.optimizer.iterations.numpy() == 15


def test_warmup_curve_with_less_than_one_batch_says_so(seed_data):
    (x, y), test = seed_data
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="fewer than one batch"):
        warmup_curve(model, (x[:8], y[:8]), test, batch_size=32)


def test_gap_is_zero_where_batch_and_moving_statistics_agree():
    record = {key: np.ones((3, 2)) for key in
              ("batch_mean", "moving_mean", "batch_variance", "moving_variance")}
    np.testing.assert_array_equal(mean_gap(record, "variance"), np.zeros(3))


def test_gap_of_an_unknown_statistic_names_the_valid_ones():
    with pytest.raises(ValueError, match='"mean" or "variance"'):
        mean_gap({}, "std")


def test_recorder_recovers_batch_statistics_across_epochs(data):
    x, y = data
    recorder = BatchNormRecorder()
    input_batchnorm_model().fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0,
                                callbacks=[recorder])
    true_means = [batch_statistics(batch)[0] for batch in np.split(x, len(x) // 64)] * 2
    np.testing.assert_allclose(recorder.history["bn"]["batch_mean"], true_means, atol=1e-4)


@pytest.fixture(scope="module")
def digits():
    (x, y), (x_test, y_test) = load_mnist_subset()
    return (x, y), (x_test[:32], y_test[:32])


def test_small_batch_comparison_reports_both_modes_for_every_normalization_and_batch_size(digits):
    table = small_batch_comparison(*digits, batch_sizes=(1, 4), steps=3)
    assert list(table.index) == [(n, b) for n in ("batch", "layer", "group") for b in (1, 4)]
    np.testing.assert_allclose(table["gap"], table["inference_accuracy"] - table["training_accuracy"])


def test_small_batch_comparison_starts_every_run_afresh(digits):
    alone = small_batch_comparison(*digits, batch_sizes=(4,), normalizations=("batch",), steps=3)
    after_another = small_batch_comparison(*digits, batch_sizes=(1, 4), normalizations=("batch",), steps=3)
    assert alone.loc[("batch", 4)].equals(after_another.loc[("batch", 4)])


def test_small_batch_comparison_records_the_batchnorm_runs_it_is_given_recorders_for(digits):
    recorder = BatchNormRecorder()
    small_batch_comparison(*digits, batch_sizes=(4,), normalizations=("batch", "layer"), steps=3,
                           recorders={4: recorder})
    assert recorder.history["batchnorm"]["batch_mean"].shape == (3, 64)
