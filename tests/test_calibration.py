import numpy as np
import pytest

from utils import expected_calibration_error, reliability


def test_a_model_as_sure_as_it_is_right_has_no_calibration_error():
    # Eight examples at confidence 0.75 of which six are right: accuracy 0.75 in that bin.
    probabilities = np.tile([0.75, 0.25], (8, 1))
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)


def test_calibration_error_weighs_each_bin_by_its_share():
    probabilities = np.array([[0.95, 0.05]] * 3 + [[0.55, 0.45]])
    labels = np.array([0, 0, 1, 1])  # surest bin: 2 of 3 right; the other: 0 of 1
    expected = 3 / 4 * abs(0.95 - 2 / 3) + 1 / 4 * abs(0.55 - 0)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(expected)


def test_reliability_keeps_only_bins_with_examples():
    table = reliability(np.array([[0.95, 0.05], [0.55, 0.45]]), np.array([0, 1]), bins=10)
    assert list(table["count"]) == [1, 1]
    assert list(table["accuracy"]) == [0.0, 1.0]


def test_reliability_rejects_labels_that_do_not_match_the_probabilities():
    with pytest.raises(ValueError, match="one label per example"):
        reliability(np.ones((3, 2)) / 2, np.array([0, 1]))


@pytest.mark.parametrize("rows", [np.ones((3, 2)), np.full((3, 2), np.nan), np.array([[1.5, -0.5]] * 3)],
                         ids=["sum to 2", "not finite", "negative"])
def test_calibration_error_refuses_rows_that_are_not_probabilities(rows):
    with pytest.raises(ValueError, match="are not probabilities"):
        expected_calibration_error(rows, np.zeros(3, int))
