"""Bad input to a helper is refused before anything changes, with a message that names the problem and the fix."""

import numpy as np
import pytest

import utils


@pytest.fixture(scope="module")
def digits():
    return utils.load_mnist_subset()


@pytest.fixture(scope="module")
def seed_model():
    model = utils.build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_select_digits_refuses_a_digit_the_labels_do_not_hold(digits):
    (x, y), _ = digits
    with pytest.raises(ValueError, match=r"no examples of \[11\].*labels present are \[0, 1"):
        utils.select_digits(x, y, [11])


def test_mc_predict_refuses_fewer_than_one_pass(seed_model, digits):
    (x, _), _ = digits
    with pytest.raises(ValueError, match="at least one pass, not samples=0"):
        utils.mc_predict(utils.with_mc_dropout(seed_model), x[:8], samples=0)


def test_predictive_entropy_refuses_rows_that_are_not_probabilities():
    with pytest.raises(ValueError, match=r"rows \[0, 1, 2\] are not probabilities.*softmax"):
        utils.predictive_entropy(np.ones((1, 3, 4)))


def test_recalibrate_batchnorm_refuses_images_of_another_shape_and_leaves_the_model_as_it_was(seed_model, digits):
    (x, _), _ = digits
    before = utils.moving_statistics(seed_model)
    with pytest.raises(ValueError, match=r"shape \(28, 28\), but model 'seed_functional' takes \(28, 28, 1\)"):
        utils.recalibrate_batchnorm(seed_model, x[..., 0])
    assert not utils.moved_layers(seed_model, before)


@pytest.mark.parametrize("helper", ["compare_modes", "inference_scores"])
def test_scoring_refuses_labels_that_do_not_pair_with_the_inputs(helper, seed_model, digits):
    (x, y), _ = digits
    with pytest.raises(ValueError, match="x holds 10 examples but y holds 5 labels; pass one label per example"):
        getattr(utils, helper)(seed_model, x[:10], y[:5])


def test_compare_modes_refuses_empty_data(seed_model, digits):
    (x, y), _ = digits
    with pytest.raises(ValueError, match="compare_modes needs data: x is empty"):
        utils.compare_modes(seed_model, x[:0], y[:0])


def test_batch_statistics_refuses_an_empty_batch():
    with pytest.raises(ValueError, match=r"needs a batch.*got shape \(0, 4\)"):
        utils.batch_statistics(np.zeros((0, 4)))


def test_mean_and_range_refuses_an_empty_selection():
    with pytest.raises(ValueError, match="needs at least one value; the selection is empty"):
        utils.mean_and_range(np.array([]))


def test_plot_seeds_refuses_an_empty_table():
    table = utils.over_seeds(lambda seed: {"a": {"m": seed}}, (0, 1, 2))
    with pytest.raises(ValueError, match="plot_seeds needs runs to draw: the table is empty"):
        utils.plot_seeds(table.iloc[:0])


def test_run_on_refuses_a_name_that_is_not_a_public_helper_before_starting_a_process():
    with pytest.raises(ValueError, match="utils has no public helper 'nope'"):
        utils.run_on("jax", "nope")
