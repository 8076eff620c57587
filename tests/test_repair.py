import keras
import numpy as np
import pytest

from utils import (
    batchnorm_layers,
    build_base,
    build_classifier,
    build_functional,
    build_sequential,
    build_subclassed,
    fold_batchnorm,
    load_mnist_subset,
    moving_statistics,
    recalibrate_batchnorm,
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
