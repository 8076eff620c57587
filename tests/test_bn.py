import keras
import numpy as np
import pytest

from utils import (
    BatchNormRecorder,
    batch_statistics,
    batchnorm_reference,
    build_functional,
    load_mnist_subset,
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


def test_recorder_finds_the_batchnorm_of_the_seed_model():
    (x, y), _ = load_mnist_subset()
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
