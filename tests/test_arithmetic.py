"""BatchNormalization's arithmetic in NumPy, against a real layer."""

import keras
import numpy as np
import pytest

from utils import batchnorm_state, used_batch_statistics


@pytest.fixture
def layer_and_batch():
    layer = keras.layers.BatchNormalization()
    x = np.random.default_rng(0).normal(3.0, 2.0, (32, 4)).astype("float32")
    layer.build(x.shape)
    return layer, x


@pytest.mark.parametrize("training", [True, False])
def test_used_batch_statistics_tells_which_statistics_a_real_layer_used(layer_and_batch, training):
    layer, x = layer_and_batch
    state = batchnorm_state(layer)
    output = keras.ops.convert_to_numpy(layer(x, training=training))
    assert used_batch_statistics(x, output, state, layer.epsilon) is training


def test_used_batch_statistics_names_the_layer_when_the_output_matches_neither(layer_and_batch):
    layer, x = layer_and_batch
    with pytest.raises(RuntimeError, match="batchnorm_7's output matches neither"):
        used_batch_statistics(x, x * 0 + 5, batchnorm_state(layer), layer.epsilon, "batchnorm_7")
