import keras
import numpy as np
import pytest

from utils import (
    AS_TRAINED,
    DROPOUT_ON,
    RECALIBRATED,
    batchnorm_affine,
    batchnorm_layers,
    build_base,
    build_classifier,
    build_functional,
    build_sequential,
    build_subclassed,
    fold_batchnorm,
    load_mnist_subset,
    mc_scores,
    moving_statistics,
    recalibrate_batchnorm,
    recalibration_over_seeds,
    recalibration_parts,
    seed_everything,
)


@pytest.fixture(scope="module")
def digits():
    (x, y), (x_test, _) = load_mnist_subset()
    return x[:512], y[:512], x_test[:200]


@pytest.fixture(scope="module")
def trained(digits):
    """The seed model with a convolutional BN, a dense BN and Dropout, trained briefly."""
    x, y, _ = digits
    seed_everything(0)
    model = build_functional(conv_batchnorm=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    return model


def copy_of(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def test_recalibrated_statistics_are_the_population_statistics_of_each_layer_s_inputs(trained, digits):
    model = copy_of(trained)
    recalibrate_batchnorm(model, digits[0], batch_size=100)
    for layer in batchnorm_layers(model):
        inputs = keras.Model(model.inputs, layer.input).predict(digits[0], verbose=0).astype(np.float64)
        axes = tuple(range(inputs.ndim - 1))
        np.testing.assert_allclose(layer.moving_mean.numpy(), inputs.mean(axis=axes), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(), inputs.var(axis=axes), rtol=1e-4, atol=1e-6)


def test_recalibration_changes_nothing_but_the_moving_statistics(trained, digits):
    model = copy_of(trained)
    recalibrate_batchnorm(model, digits[0])
    statistics = {id(v) for layer in batchnorm_layers(model) for v in (layer.moving_mean, layer.moving_variance)}
    for before, after in zip(trained.weights, model.weights):
        if id(after) not in statistics:
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after))


def test_recalibration_reports_how_far_each_layer_moved(trained, digits):
    moved = recalibrate_batchnorm(copy_of(trained), digits[0])
    assert list(moved) == ["conv_batchnorm", "batchnorm"]
    assert all(report["mean_shift"] > 0 and report["variance_ratio"] > 0 for report in moved.values())


def test_recalibrating_chosen_layers_leaves_the_others(trained, digits):
    model = copy_of(trained)
    before = moving_statistics(model)
    recalibrate_batchnorm(model, digits[0], layers=["batchnorm"])
    np.testing.assert_array_equal(moving_statistics(model)["conv_batchnorm"][0], before["conv_batchnorm"][0])


def test_recalibration_reaches_batchnorm_inside_a_nested_base(digits):
    seed_everything(0)
    model = build_classifier(build_base(), num_classes=10)
    recalibrate_batchnorm(model, digits[0])
    base = model.get_layer("base")
    inputs = keras.Model(base.inputs, base.get_layer("batchnorm3").input).predict(digits[0], verbose=0)
    np.testing.assert_allclose(base.get_layer("batchnorm3").moving_mean.numpy(),
                               inputs.astype(np.float64).mean(axis=0), rtol=1e-4, atol=1e-6)


def test_recalibrating_a_model_without_batchnorm_says_there_is_nothing_to_do(digits):
    with pytest.raises(ValueError, match="no BatchNormalization layer"):
        recalibrate_batchnorm(build_functional(normalization="layer"), digits[0])


def test_recalibrating_with_no_data_asks_for_the_training_inputs(trained):
    with pytest.raises(ValueError, match="x is empty"):
        recalibrate_batchnorm(copy_of(trained), np.zeros((0, 28, 28, 1), "float32"))


def test_recalibrating_a_frozen_layer_says_what_it_would_overwrite(trained, digits):
    model = copy_of(trained)
    model.get_layer("batchnorm").trainable = False
    with pytest.raises(ValueError, match="frozen.*Recalibrating would replace them"):
        recalibrate_batchnorm(model, digits[0])


def test_recalibrating_an_unknown_layer_lists_the_layers(trained, digits):
    with pytest.raises(ValueError, match="its BatchNormalization layers are"):
        recalibrate_batchnorm(copy_of(trained), digits[0], layers=["bn"])


def test_a_subclassed_model_gets_an_error_that_says_how_to_rebuild_it(digits):
    with pytest.raises(TypeError, match="subclassed"):
        recalibrate_batchnorm(build_subclassed(), digits[0])


def max_difference(model, other, x):
    return np.abs(model.predict(x, verbose=0) - other.predict(x, verbose=0)).max()


def recalibrated(build, digits):
    """A new model whose statistics are far from the starting 0 and 1, so that folding shows."""
    seed_everything(0)
    model = build()
    recalibrate_batchnorm(model, digits[0])
    return model


def test_folding_the_seed_model_removes_batchnorm_and_keeps_the_outputs(digits):
    model = recalibrated(build_functional, digits)
    folded = fold_batchnorm(model)
    assert batchnorm_layers(folded) == []
    assert max_difference(model, folded, digits[2]) <= 1e-5


def test_folding_the_transfer_base_folds_each_batchnorm_into_the_layer_before(digits):
    model = recalibrated(lambda: build_classifier(build_base(), num_classes=10), digits)
    folded = fold_batchnorm(model)
    assert batchnorm_layers(folded) == []
    assert max_difference(model, folded, digits[2]) <= 1e-5


def test_folding_leaves_the_original_model_untouched(digits):
    model = recalibrated(lambda: build_classifier(build_base(), num_classes=10), digits)
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    fold_batchnorm(model)
    assert len(batchnorm_layers(model)) == 3
    for then, now in zip(before, model.weights):
        np.testing.assert_array_equal(then, keras.ops.convert_to_numpy(now))


def test_folding_a_sequential_model_keeps_its_outputs(digits):
    model = recalibrated(build_sequential, digits)
    assert max_difference(model, fold_batchnorm(model), digits[2]) <= 1e-5


def test_a_batchnorm_after_a_relu_and_before_pooling_cannot_be_folded(trained):
    with pytest.raises(ValueError, match="'conv_batchnorm' cannot be folded exactly.*'relu'.*MaxPooling2D"):
        fold_batchnorm(trained)


def test_folding_a_model_without_batchnorm_says_there_is_nothing_to_do():
    with pytest.raises(ValueError, match="no BatchNormalization layer"):
        fold_batchnorm(build_functional(normalization="group"))


def test_folding_a_subclassed_model_says_how_to_rebuild_it():
    with pytest.raises(TypeError, match="Build it with keras.Input"):
        fold_batchnorm(build_subclassed())


@keras.saving.register_keras_serializable(package="training_lab_tests")
class CountingLayer(keras.layers.Layer):
    """Passes its inputs on and counts, in Python, how many examples went through (eager calls only)."""

    seen = 0

    def call(self, inputs):
        CountingLayer.seen += inputs.shape[0] or 0  # None while the graph is built
        return inputs


def test_recalibration_costs_one_pass_over_the_data_per_batchnorm_layer(digits):
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Flatten()(CountingLayer()(inputs))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(h))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(h))
    model = keras.Model(inputs, h)
    CountingLayer.seen = 0
    recalibrate_batchnorm(model, digits[0], batch_size=128)
    assert CountingLayer.seen == 2 * len(digits[0])


def test_batchnorm_affine_is_the_layer_in_inference_mode(trained, digits):
    layer = trained.get_layer("batchnorm")
    inputs = keras.Model(trained.inputs, layer.input).predict(digits[2], verbose=0)
    scale, shift = batchnorm_affine(layer)
    np.testing.assert_allclose(scale * inputs + shift, keras.ops.convert_to_numpy(layer(inputs, training=False)),
                               rtol=1e-5, atol=1e-5)


def test_recalibrating_with_dropout_on_measures_dropout_s_extra_variance(trained, digits):
    parts = recalibration_parts(trained, digits[0])
    assert parts[AS_TRAINED] is trained
    on, off = (moving_statistics(parts[name])["batchnorm"][1] for name in (DROPOUT_ON, RECALIBRATED))
    # Dropout before the Dense layer adds variance to what BatchNormalization receives.
    assert np.median(on[off > 0] / off[off > 0]) > 1
    recalibrated = parts[RECALIBRATED]  # its earlier conv_batchnorm is recalibrated too
    inputs = keras.Model(recalibrated.inputs, recalibrated.get_layer("batchnorm").input).predict(digits[0], verbose=0)
    np.testing.assert_allclose(off, inputs.astype(np.float64).var(axis=0), rtol=1e-4, atol=1e-6)


def test_mc_scores_reads_the_surest_share_of_monte_carlo_predictions(trained, digits):
    x, y, _ = digits
    scores = mc_scores(trained, x[:100], y[:100], samples=4, share=0.1)
    assert set(scores) == {"accuracy", "surest: accuracy", "surest: confidence", "surest: |confidence - accuracy|"}
    assert scores["surest: |confidence - accuracy|"] == pytest.approx(
        abs(scores["surest: confidence"] - scores["surest: accuracy"]))
    assert 0 <= scores["accuracy"] <= 1


def test_recalibration_over_seeds_scores_each_seed_as_trained_and_recalibrated(digits):
    x, y, x_test = digits

    def build():
        model = build_functional()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    table = recalibration_over_seeds(build, (x, y), (x_test, y[:len(x_test)]), checkpoints=[2, 4], seeds=(0, 1))
    assert set(table["method"]) == {AS_TRAINED, RECALIBRATED} and set(table["step"]) == {2, 4}
    assert set(table["score"]) == {"accuracy", "cross-entropy", "confidence", "calibration error"}
    assert len(table) == 2 * 2 * 4 * 2  # seeds x variants x scores x checkpoints
    assert (table["metric"] == table["score"] + " after " + table["step"].astype(str) + " steps").all()


def test_recalibrating_on_nan_images_is_refused_and_leaves_the_model_as_it_was(trained, digits):
    model = copy_of(trained)
    before = model.get_weights()
    images = digits[0][:64].copy()
    images[[3, 40]] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 2 of its 64 examples \(indices \[3, 40\]\)"):
        recalibrate_batchnorm(model, images)
    for kept, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(kept, now)


def test_recalibration_that_overflows_inside_the_model_puts_every_statistic_back(trained, digits):
    model = copy_of(trained)
    dense = model.get_layer("dense")
    # The first BatchNormalization's inputs stay finite; the second's overflow float32.
    dense.kernel.assign(dense.kernel * 1e38)
    before = model.get_weights()
    with pytest.raises(ValueError, match="inputs of 'batchnorm' over x are not finite.*left as they were"):
        recalibrate_batchnorm(model, digits[0][:64])
    for kept, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(kept, now)
