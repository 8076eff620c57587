import keras
import numpy as np
import pytest

from utils import (
    SEED_SPEC,
    WITHOUT_NORMALIZATION,
    build_base,
    build_classifier,
    build_functional,
    build_sequential,
    build_subclassed,
    load_mnist_subset,
    moving_statistics,
    unfreeze,
)

BUILDERS = [build_sequential, build_functional, build_subclassed]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((16, 28, 28, 1)).astype("float32")


@pytest.fixture(scope="module")
def models():
    built = []
    for build in BUILDERS:
        # The same seed gives each model's Dropout the same random stream.
        keras.utils.set_random_seed(0)
        built.append(build())
    for model in built[1:]:
        model.set_weights(built[0].get_weights())
    return built


@pytest.mark.parametrize("training", [None, False, True])
def test_three_builds_with_the_same_weights_give_identical_outputs(models, images, training):
    outputs = [keras.ops.convert_to_numpy(model(images, training=training)) for model in models]
    for output in outputs[1:]:
        np.testing.assert_array_equal(output, outputs[0])


@pytest.mark.parametrize("build", BUILDERS)
def test_each_build_has_the_seed_layers_in_order(build):
    model = build()
    layers = model.blocks if hasattr(model, "blocks") else model.layers
    names = [type(layer).__name__ for layer in layers if type(layer).__name__ != "InputLayer"]
    assert names == [name for name, _ in SEED_SPEC]


@pytest.mark.parametrize("build", BUILDERS)
def test_num_classes_sets_the_width_of_the_output(build):
    assert build(num_classes=5)(np.zeros((1, 28, 28, 1))).shape[-1] == 5


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("shape", [(28, 28), (3, 3, 1), (28, 28, 0), (28.0, 28, 1)])
def test_invalid_input_shape_is_refused_with_a_valid_example(build, shape):
    with pytest.raises(ValueError, match=r"e\.g\. \(28, 28, 1\)"):
        build(input_shape=shape)


def test_num_classes_below_two_is_refused():
    with pytest.raises(ValueError, match="num_classes"):
        build_functional(num_classes=1)


def test_conv_batchnorm_adds_a_batchnorm_after_the_convolution():
    names = [layer.name for layer in build_functional(conv_batchnorm=True).layers]
    assert names[names.index("conv") + 1] == "conv_batchnorm"
    assert names.count("conv_batchnorm") == 1 and "batchnorm" in names


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = load_mnist_subset()
    return x[:256], y[:256]


def fine_tuned(digits, training, keep_batchnorm_frozen):
    """Feature extraction, then fine-tuning; returns the base and its moving statistics before."""
    x, y = digits
    base = build_base()
    base.trainable = False
    model = build_classifier(base, 10, training=training)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, verbose=0)
    before = moving_statistics(base)
    if keep_batchnorm_frozen:
        unfreeze(base)
    else:
        base.trainable = True
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, verbose=0)
    return base, before


def test_unfreeze_with_batchnorm_kept_frozen_leaves_moving_statistics_unchanged(digits):
    base, before = fine_tuned(digits, training=None, keep_batchnorm_frozen=True)
    for name, now in moving_statistics(base).items():
        np.testing.assert_array_equal(before[name], now)


def test_a_classifier_built_without_training_updates_batchnorm_in_fit(digits):
    x, y = digits
    base = build_base()
    model = build_classifier(base, 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = moving_statistics(base)
    model.fit(x[:64], y[:64], batch_size=64, verbose=0)
    assert all(not np.array_equal(before[name], now)
               for name, now in moving_statistics(base).items())


def test_unfreeze_trains_every_layer_with_weights_but_batchnorm():
    base = build_base()
    base.trainable = False
    assert unfreeze(base) == ["conv1", "conv2", "dense"]
    assert not base.get_layer("batchnorm1").trainable


def test_the_classic_recipe_drifts_the_moving_statistics_exactly_where_fit_overrides(
        digits, keras_overrides):
    base, before = fine_tuned(digits, training=False, keep_batchnorm_frozen=False)
    drifted = any(not np.array_equal(before[name], now)
                  for name, now in moving_statistics(base).items())
    assert drifted is keras_overrides


def test_unfreeze_from_a_layer_keeps_the_earlier_ones_frozen():
    base = build_base()
    base.trainable = False
    assert unfreeze(base, from_layer="conv2") == ["conv2", "dense"]
    assert not base.get_layer("conv1").trainable


def test_unfreeze_from_an_unknown_layer_lists_the_layers():
    with pytest.raises(ValueError, match=r"its layers are \['image', 'conv1'"):
        unfreeze(build_base(), from_layer="conv3")


def test_unfreeze_with_nothing_but_batchnorm_left_says_what_to_do():
    with pytest.raises(ValueError, match="Nothing to unfreeze.*keep_batchnorm_frozen=False"):
        unfreeze(build_base(), from_layer="batchnorm3")


def test_unfreeze_unfreezes_a_layer_frozen_alone_in_an_already_trainable_model():
    base = build_base()
    base.get_layer("conv1").trainable = False
    unfreeze(base, keep_batchnorm_frozen=False)
    assert all(layer.trainable for layer in base.layers)


def test_the_seed_model_can_swap_its_batchnorm_for_a_batch_independent_normalization():
    for normalization, kind in (("layer", keras.layers.LayerNormalization), ("group", keras.layers.GroupNormalization)):
        model = build_functional(normalization=normalization)
        assert isinstance(model.get_layer("normalization"), kind)
        assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_an_unknown_normalization_lists_the_known_ones():
    with pytest.raises(ValueError, match="choose from"):
        build_functional(normalization="instance")


def test_before_activation_puts_batchnorm_between_dense_and_its_relu():
    from utils import build_functional

    names = [layer.name for layer in build_functional(before_activation=True).layers]
    assert names[names.index("dense"):names.index("dense") + 3] == ["dense", "batchnorm", "relu"]
    assert build_functional(before_activation=True).get_layer("dense").get_config()["activation"] == "linear"


@pytest.mark.parametrize("build", BUILDERS)
def test_without_normalization_leaves_out_only_the_batchnorm_layer(build):
    model = build(normalization=WITHOUT_NORMALIZATION)
    layers = model.blocks if hasattr(model, "blocks") else model.layers
    names = [type(layer).__name__ for layer in layers if type(layer).__name__ != "InputLayer"]
    assert names == [name for name, _ in SEED_SPEC if name != "BatchNormalization"]


@pytest.mark.parametrize("build", BUILDERS)
def test_without_normalization_the_same_seed_gives_the_same_initial_weights(build):
    keras.utils.set_random_seed(0)
    model = build()
    with_batchnorm = {layer.name: layer.get_weights() for layer in getattr(model, "blocks", model.layers)}
    keras.utils.set_random_seed(0)
    model = build(normalization=WITHOUT_NORMALIZATION)
    without = {layer.name: layer.get_weights() for layer in getattr(model, "blocks", model.layers)}
    assert set(with_batchnorm) - set(without) == {"batchnorm"}
    for name, weights in without.items():
        for weight, twin in zip(weights, with_batchnorm[name]):
            np.testing.assert_array_equal(weight, twin)


def test_without_normalization_refuses_a_placement_before_the_activation():
    with pytest.raises(ValueError, match="pass one of the two"):
        build_functional(normalization=WITHOUT_NORMALIZATION, before_activation=True)
