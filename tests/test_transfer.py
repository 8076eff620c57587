import keras
import numpy as np
import pytest

from utils import (
    CLASSIC,
    KEPT_FROZEN,
    RECIPES,
    TRAIN_BN,
    WRAPPER,
    InferenceMode,
    build_base,
    compare_recipes,
    fine_tune,
    load_mnist_subset,
    moving_statistics,
    pretrain,
    sample,
    select_digits,
    statistics_shift,
    train_head,
)


@pytest.fixture(scope="module")
def digits():
    (x, y), (x_test, y_test) = load_mnist_subset()
    new = select_digits(x[:400], y[:400], range(5, 10))
    new_test = select_digits(x_test[:100], y_test[:100], range(5, 10))
    return select_digits(x[:600], y[:600], range(5)), new, new_test


@pytest.fixture(scope="module")
def pretraining(digits, tmp_path_factory):
    old, _, _ = digits
    path = tmp_path_factory.mktemp("base") / "base.keras"
    pretrained_model = pretrain(old, 5, path, epochs=1)
    return path, pretrained_model


@pytest.fixture(scope="module")
def pretrained(pretraining):
    return pretraining[0]


def tuned_shift(pretrained, digits, recipe):
    _, new, _ = digits
    model = train_head(pretrained, new, 5, epochs=1)
    before = moving_statistics(model.get_layer("base"))
    fine_tune(model, recipe, new, epochs=1)
    return statistics_shift(model.get_layer("base"), before)


def test_select_digits_keeps_the_classes_and_relabels_them_in_the_order_given():
    x = np.arange(6)
    y = np.array([5, 7, 1, 9, 5, 7])
    kept_x, kept_y = select_digits(x, y, [7, 5])
    assert list(kept_x) == [0, 1, 4, 5] and list(kept_y) == [1, 0, 1, 0]


def test_sample_draws_distinct_examples_the_same_for_the_same_seed():
    x, y = np.arange(50), np.arange(50) % 5
    first, again = sample((x, y), 20, seed=3), sample((x, y), 20, seed=3)
    assert len(set(first[0])) == 20 and np.array_equal(first[0], again[0])
    assert np.array_equal(first[1], first[0] % 5)


def test_sample_larger_than_the_data_says_what_size_fits():
    with pytest.raises(ValueError, match="pass a size from 1 to 50"):
        sample((np.arange(50), np.arange(50)), 60, seed=0)


def test_statistics_shift_is_the_mean_move_in_standard_deviations():
    layer = keras.layers.BatchNormalization(epsilon=0.0, name="batchnorm")
    layer.build((None, 2))
    before = {"batchnorm": (np.array([0.0, 1.0]), np.array([4.0, 1.0]))}
    layer.moving_mean.assign([1.0, 1.5])
    model = keras.Sequential([keras.Input((2,)), layer])
    assert statistics_shift(model, before) == pytest.approx((1.0 / 2 + 0.5 / 1) / 2)


def test_the_inference_mode_wrapper_trains_weights_but_never_updates_moving_statistics(digits):
    _, (x, y), _ = digits
    base = build_base()
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(5)(InferenceMode(base)(inputs)))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = moving_statistics(base)
    kernel = base.get_layer("conv1").kernel.numpy()
    model.fit(x, y, batch_size=32, verbose=0)
    assert statistics_shift(base, before) == 0
    assert not np.array_equal(kernel, base.get_layer("conv1").kernel.numpy())


def test_pretrain_saves_the_base_of_the_model_it_returns(pretraining):
    path, model = pretraining
    saved = keras.models.load_model(path)
    for mine, theirs in zip(model.get_layer("base").weights, saved.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_train_head_trains_only_the_head_and_keeps_the_pretrained_statistics(pretrained, digits):
    _, new, _ = digits
    saved = moving_statistics(keras.models.load_model(pretrained))
    model = train_head(pretrained, new, 5, epochs=1)
    assert [weight.path.split("/")[0] for weight in model.trainable_weights] == ["head", "head"]
    assert statistics_shift(model.get_layer("base"), saved) == 0


def test_fine_tuning_with_batchnorm_kept_frozen_does_not_shift_the_statistics(pretrained, digits):
    assert tuned_shift(pretrained, digits, KEPT_FROZEN) == 0


def test_fine_tuning_through_the_wrapper_does_not_shift_the_statistics(pretrained, digits):
    assert tuned_shift(pretrained, digits, WRAPPER) == 0


def test_the_classic_recipe_shifts_the_statistics_exactly_where_fit_overrides_training_false(
        pretrained, digits, keras_overrides):
    assert (tuned_shift(pretrained, digits, CLASSIC) > 0) is keras_overrides


def test_an_unknown_recipe_lists_the_recipes():
    with pytest.raises(ValueError, match="the recipes are"):
        fine_tune(None, "freeze nothing", None)


def test_compare_recipes_starts_every_recipe_from_the_same_head(pretrained, digits):
    _, new, new_test = digits
    table = compare_recipes(pretrained, new, new_test, 5, examples=64, seeds=(0,),
                            head_epochs=1, epochs=1)
    assert list(table["recipe"]) == list(RECIPES)
    head = train_head(pretrained, sample(new, 64, 0), 5, epochs=1)
    _, accuracy = head.evaluate(*new_test, verbose=0)
    assert table["test accuracy"].iloc[0] == accuracy


def test_compare_recipes_trains_gamma_and_beta_only_where_batchnorm_is_unfrozen(pretrained, digits):
    _, new, new_test = digits
    table = compare_recipes(pretrained, new, new_test, 5, examples=64, seeds=(0,),
                            head_epochs=1, epochs=1).set_index("recipe")["gamma/beta change"]
    # The wrapper runs after kept-frozen on the same base: it must not inherit its frozen BN.
    assert table[KEPT_FROZEN] == 0
    assert table[WRAPPER] > 0 and table[CLASSIC] > 0


def test_the_fastai_recipe_moves_the_statistics_on_every_keras(pretrained, digits):
    assert tuned_shift(pretrained, digits, TRAIN_BN) > 0


def test_the_fastai_recipe_trains_only_batchnorm_in_the_body(pretrained, digits):
    _, new, _ = digits
    model = train_head(pretrained, new, 5, epochs=1)
    kernel = model.get_layer("base").get_layer("conv1").kernel.numpy()
    tuned = fine_tune(model, TRAIN_BN, new, epochs=1)
    base = tuned.get_layer("base")
    np.testing.assert_array_equal(base.get_layer("conv1").kernel.numpy(), kernel)
    assert [layer.name for layer in base.layers if layer.trainable_weights] == [
        "batchnorm1", "batchnorm2", "batchnorm3"]
