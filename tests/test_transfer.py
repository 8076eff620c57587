import keras
import numpy as np
import pytest

from utils import (
    InferenceMode,
    batchnorm_layers,
    build_base,
    fine_tune,
    load_mnist_subset,
    pretrain,
    select_digits,
)


@pytest.fixture(scope="module")
def subset():
    return load_mnist_subset()


@pytest.fixture(scope="module")
def pretrained(subset, tmp_path_factory):
    (x, y), _ = subset
    path = tmp_path_factory.mktemp("base") / "base.keras"
    pretrain(select_digits(x[:600], y[:600], range(5)), 5, path, epochs=1)
    return path


def test_select_digits_keeps_the_classes_and_relabels_them_in_the_order_given():
    x = np.arange(6)
    y = np.array([5, 7, 1, 9, 5, 7])
    kept_x, kept_y = select_digits(x, y, [7, 5])
    assert list(kept_x) == [0, 1, 4, 5] and list(kept_y) == [1, 0, 1, 0]


def test_the_inference_mode_wrapper_trains_weights_but_never_updates_moving_statistics(subset):
    (x, y), _ = subset
    base = build_base()
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10)(InferenceMode(base)(inputs)))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [layer.moving_mean.numpy() for layer in batchnorm_layers(base)]
    kernel = base.get_layer("conv1").kernel.numpy()
    model.fit(x[:128], y[:128], batch_size=32, verbose=0)
    for was, layer in zip(before, batchnorm_layers(base)):
        np.testing.assert_array_equal(was, layer.moving_mean.numpy())
    assert not np.array_equal(kernel, base.get_layer("conv1").kernel.numpy())


def test_fine_tuning_with_batchnorm_kept_frozen_does_not_drift(subset, pretrained):
    (x, y), (x_test, y_test) = subset
    result = fine_tune("unfreeze with BatchNormalization kept frozen", pretrained,
                       select_digits(x[:320], y[:320], range(5, 10)),
                       select_digits(x_test[:100], y_test[:100], range(5, 10)), 5, epochs=1)
    assert result["drift"] == 0


def test_the_classic_recipe_drifts_exactly_where_fit_overrides_training_false(
        subset, pretrained, keras_overrides):
    (x, y), (x_test, y_test) = subset
    result = fine_tune("classic: training=False, then unfreeze all", pretrained,
                       select_digits(x[:320], y[:320], range(5, 10)),
                       select_digits(x_test[:100], y_test[:100], range(5, 10)), 5, epochs=1)
    assert (result["drift"] > 0) is keras_overrides


def test_an_unknown_recipe_lists_the_recipes(pretrained):
    with pytest.raises(ValueError, match="the recipes are"):
        fine_tune("freeze nothing", pretrained, None, None, 5)
