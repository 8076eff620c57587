import json

import keras
import numpy as np
import pytest

from utils import (
    CLASSIC,
    FEATURES_ONLY,
    KEPT_FROZEN,
    RECIPES,
    SCHOOL_04,
    SCHOOL_FASTAI,
    SCHOOL_FASTAI_BN_FROZEN,
    SCHOOLS,
    TRAIN_BN,
    WRAPPER,
    InferenceMode,
    LayerRates,
    build_base,
    compare_recipes,
    fastai_fine_tune,
    fine_tune,
    load_mnist_subset,
    moving_statistics,
    pretrain,
    recipe_run,
    recipes_on_sample,
    sample,
    school_runs,
    select_digits,
    statistics_shift,
    train_head,
)
from utils.transfer import (
    ABOVE_CLASSIC,
    AT_DEFAULT_MOMENTUM,
    LONGER_HEAD,
    MATCHED_CLASSIC,
    MATCHED_FEATURES,
    RECALIBRATED_AFTER,
    RESEEDED,
    RESTORED_AFTER,
    WEIGHTS_APART,
    variance_change,
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
    assert table["test accuracy"].iloc[0] == pytest.approx(accuracy, abs=1e-6)  # evaluate counts in float32


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


def test_layer_rates_train_the_slow_variables_at_their_factor_of_the_rate():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    slow, fast = keras.layers.Dense(3, name="slow"), keras.layers.Dense(2, name="fast")
    model = keras.Model(inputs, fast(slow(inputs)))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 2)).astype("float32")
    before = [weight.copy() for weight in model.get_weights()]
    model.compile(optimizer=LayerRates(1e-2, slow.trainable_variables, factor=0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    moved = [np.abs(now - then).max() for now, then in zip(model.get_weights(), before)]
    # Adam's steps scale with the rate: the slow kernel moves about a hundredth as far as the fast one.
    assert 0.005 < moved[0] / moved[2] < 0.02


def test_fastai_fine_tune_without_train_bn_starts_with_train_head_s_very_run(pretrained, digits):
    _, new, new_test = digits
    head = train_head(pretrained, new, 5, epochs=1)
    first = []
    fastai_fine_tune(pretrained, new, 5, train_bn=False, head_epochs=1, epochs=1,
                     after_stage_one=lambda model: first.append(model.get_weights()))
    for mine, theirs in zip(first[0], head.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_fastai_fine_tune_trains_batchnorm_alone_in_the_frozen_body_then_everything(pretrained, digits):
    _, new, _ = digits
    saved = keras.models.load_model(pretrained)
    kernel, gamma = saved.get_layer("conv1").kernel.numpy(), saved.get_layer("batchnorm1").gamma.numpy()
    stage_one = {}

    def look(model):
        base = model.get_layer("base")
        stage_one.update(kernel=base.get_layer("conv1").kernel.numpy(),
                         gamma=base.get_layer("batchnorm1").gamma.numpy(),
                         shift=statistics_shift(base, moving_statistics(saved)))

    tuned = fastai_fine_tune(pretrained, new, 5, train_bn=True, head_epochs=1, epochs=1, after_stage_one=look)
    np.testing.assert_array_equal(stage_one["kernel"], kernel)
    assert not np.array_equal(stage_one["gamma"], gamma) and stage_one["shift"] > 0
    assert not np.array_equal(tuned.get_layer("base").get_layer("conv1").kernel.numpy(), kernel)


def test_school_runs_measures_each_school_after_each_stage(pretrained, digits):
    _, new, new_test = digits
    results = school_runs(pretrained, sample(new, 64, 0), new_test, 5, head_epochs=1, epochs=1)
    assert list(results) == list(SCHOOLS)
    assert all(set(scores) == {"after stage 1", "after stage 2", "shift", "gamma/beta change"}
               for scores in results.values())
    assert results[SCHOOL_04]["after stage 1"] == results[SCHOOL_FASTAI_BN_FROZEN]["after stage 1"]
    for kept_frozen in (SCHOOL_04, SCHOOL_FASTAI_BN_FROZEN):
        assert results[kept_frozen]["shift"] == results[kept_frozen]["gamma/beta change"] == 0
    assert results[SCHOOL_FASTAI]["shift"] > 0 and results[SCHOOL_FASTAI]["gamma/beta change"] > 0


def test_train_head_with_recalibrate_starts_from_the_statistics_of_the_training_inputs(pretrained, digits):
    _, (x, y), _ = digits
    model = train_head(pretrained, (x, y), 5, epochs=1, recalibrate=True)
    base = model.get_layer("base")
    first = base.get_layer("batchnorm1")
    inputs = keras.ops.convert_to_numpy(keras.Model(base.input, first.input)(x, training=False))
    saved = moving_statistics(keras.models.load_model(pretrained))["batchnorm1"][0]
    # float32 convolutions over other batch sizes: equal to about 1e-4, where pretraining's mean is far off.
    np.testing.assert_allclose(first.moving_mean.numpy(), inputs.mean(axis=(0, 1, 2)), atol=5e-4)
    assert np.abs(saved - inputs.mean(axis=(0, 1, 2))).max() > 10 * 5e-4
    assert [weight.path.split("/")[0] for weight in model.trainable_weights] == ["head", "head"]


def test_recipes_on_sample_returns_the_recipes_in_order_with_the_accuracy_above_classic(pretrained, digits):
    _, new, new_test = digits
    recipes = (FEATURES_ONLY, CLASSIC, RECALIBRATED_AFTER)
    runs = recipes_on_sample(pretrained, new, new_test, 5, seed=0, examples=64, head_epochs=1, epochs=1,
                             recipes=recipes)
    assert list(runs) == list(recipes)
    assert runs[CLASSIC][ABOVE_CLASSIC] == 0
    for scores in runs.values():
        assert scores[ABOVE_CLASSIC] == pytest.approx(scores["test accuracy"] - runs[CLASSIC]["test accuracy"])
    # Recalibrating after changes the statistics only: gamma and beta are the classic run's.
    assert runs[RECALIBRATED_AFTER]["gamma/beta change"] == runs[CLASSIC]["gamma/beta change"]
    assert runs[RECALIBRATED_AFTER]["shift"] != runs[CLASSIC]["shift"]


def test_the_default_momentum_run_leaves_the_next_recipe_at_the_base_momentum(pretrained, digits, keras_overrides):
    _, new, new_test = digits
    settings = dict(seed=0, examples=64, head_epochs=1, epochs=1)
    alone = recipes_on_sample(pretrained, new, new_test, 5, recipes=(CLASSIC,), **settings)
    after = recipes_on_sample(pretrained, new, new_test, 5, recipes=(AT_DEFAULT_MOMENTUM, CLASSIC), **settings)
    assert after[CLASSIC]["shift"] == pytest.approx(alone[CLASSIC]["shift"])
    assert (after[AT_DEFAULT_MOMENTUM]["shift"] < after[CLASSIC]["shift"]) is keras_overrides


def test_the_matched_recipes_start_from_a_head_trained_on_the_recalibrated_base(pretrained, digits):
    _, new, new_test = digits
    runs = recipes_on_sample(pretrained, new, new_test, 5, seed=0, examples=64, head_epochs=1, epochs=1,
                             recipes=(MATCHED_FEATURES, MATCHED_CLASSIC))
    assert list(runs) == [MATCHED_FEATURES, MATCHED_CLASSIC]
    assert runs[MATCHED_FEATURES]["shift"] == 0 and ABOVE_CLASSIC not in runs[MATCHED_FEATURES]
    assert runs[MATCHED_CLASSIC]["gamma/beta change"] > 0


def test_variance_change_is_the_mean_absolute_log_ratio_of_the_moving_variances():
    model = build_base()
    before = moving_statistics(model)
    assert variance_change(model, before) == 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, np.e, "float32"))
    assert variance_change(model, before) == pytest.approx(1)


def test_the_momentum_changes_only_the_moving_statistics_not_the_weights(pretrained, digits):
    _, new, new_test = digits
    runs = recipes_on_sample(pretrained, new, new_test, 5, seed=0, examples=64, head_epochs=1, epochs=1,
                             recipes=(AT_DEFAULT_MOMENTUM, CLASSIC))
    assert runs[AT_DEFAULT_MOMENTUM][WEIGHTS_APART] <= 1e-6 and WEIGHTS_APART not in runs[CLASSIC]


def test_putting_the_pretrained_statistics_back_keeps_the_classic_weights_and_undoes_the_shift(pretrained, digits):
    _, new, new_test = digits
    runs = recipes_on_sample(pretrained, new, new_test, 5, seed=0, examples=64, head_epochs=1, epochs=1,
                             recipes=(CLASSIC, RESTORED_AFTER))
    restored = runs[RESTORED_AFTER]
    assert restored["shift"] == 0 and restored["variance change"] == 0
    assert restored["gamma/beta change"] == runs[CLASSIC]["gamma/beta change"]


def test_the_longer_head_trains_the_head_alone_even_after_the_classic_recipe(pretrained, digits):
    _, new, new_test = digits
    runs = recipes_on_sample(pretrained, new, new_test, 5, seed=0, examples=64, head_epochs=1, epochs=1,
                             recipes=(CLASSIC, LONGER_HEAD, FEATURES_ONLY))
    longer = runs[LONGER_HEAD]
    # The classic run unfroze the base first: the longer head must freeze it again.
    assert longer["shift"] == 0 and longer["variance change"] == 0 and longer["gamma/beta change"] == 0


def test_the_reseeded_classic_run_starts_from_the_same_head_with_another_seed(pretrained, digits, keras_overrides):
    _, new, new_test = digits
    runs = recipes_on_sample(pretrained, new, new_test, 5, seed=0, examples=64, head_epochs=1, epochs=1,
                             recipes=(CLASSIC, RESEEDED))
    # Another order of the same batches: where fit runs BN in training mode, the statistics end elsewhere.
    assert (runs[RESEEDED]["shift"] != runs[CLASSIC]["shift"]) is keras_overrides
    assert set(runs[RESEEDED]) == set(runs[CLASSIC])


def test_recipes_on_sample_refuses_unknown_recipes_and_a_recalibration_without_classic(pretrained, digits):
    _, new, new_test = digits
    with pytest.raises(ValueError, match="the recipes are"):
        recipes_on_sample(pretrained, new, new_test, 5, seed=0, recipes=("freeze nothing",))
    with pytest.raises(ValueError, match="add 'classic"):
        recipes_on_sample(pretrained, new, new_test, 5, seed=0, recipes=(RECALIBRATED_AFTER,))


def test_recipe_run_takes_and_returns_plain_values(pretrained):
    runs = recipe_run(0, str(pretrained), examples=32, recipes=[FEATURES_ONLY])
    assert json.loads(json.dumps(runs)) == runs
    assert list(runs) == [FEATURES_ONLY] and 0 <= runs[FEATURES_ONLY]["test accuracy"] <= 1
