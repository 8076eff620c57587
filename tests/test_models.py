import keras
import numpy as np
import pytest

from utils import SEED_SPEC, build_functional, build_sequential, build_subclassed

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
