"""How far a classifier's confidence is from its accuracy."""

import numpy as np
import pandas as pd

from utils.inputs import check_probabilities


def _check(probabilities: np.ndarray, labels: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError(f"Pass class probabilities shaped (examples, classes) and one label per example; "
                         f"got shapes {probabilities.shape} and {labels.shape}.")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}.")
    check_probabilities("reliability", probabilities)
    return probabilities.max(axis=1), probabilities.argmax(axis=1) == labels


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Confidence against accuracy in equal-width bins of confidence: a reliability diagram's numbers.

    Confidence is the probability of the class the model picks.

    Returns:
        One row per bin that holds an example: `low`, `high`, `count`, `confidence`
        (the bin's mean) and `accuracy` (the share it got right).
    """
    confidence, correct = _check(probabilities, labels, bins)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = [{"low": edges[b], "high": edges[b + 1], "count": int((index == b).sum()),
             "confidence": float(confidence[index == b].mean()), "accuracy": float(correct[index == b].mean())}
            for b in range(bins) if (index == b).any()]
    return pd.DataFrame(rows)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """The gap between confidence and accuracy per confidence bin, averaged with the bins' shares."""
    table = reliability(probabilities, labels, bins)
    return float((table["count"] * (table["confidence"] - table["accuracy"]).abs()).sum() / table["count"].sum())
