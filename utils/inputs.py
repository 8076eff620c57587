"""Refusals shared by the helpers: bad input is named, with its fix, before anything changes."""

import numpy as np


def check_examples(what: str, x, y=None) -> None:
    """Refuse empty inputs, and labels that do not pair one to one with the inputs.

    Args:
        what: the helper's name, for the message.
    """
    if len(x) == 0:
        raise ValueError(f"{what} needs data: x is empty. Pass at least one example.")
    if y is not None and len(y) != len(x):
        raise ValueError(f"{what}: x holds {len(x)} examples but y holds {len(y)} labels; pass one label per example.")


def check_input_shape(what: str, model, x) -> None:
    """Refuse inputs whose shape (after the batch axis) is not the one `model` takes."""
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    given = tuple(np.shape(x)[1:])
    # A None in the model's shape takes any size there.
    if expected is not None and (len(given) != len(expected)
                                 or any(e is not None and e != g for e, g in zip(expected, given))):
        raise ValueError(f"{what}: each example of x has shape {tuple(np.shape(x)[1:])}, but model "
                         f"{model.name!r} takes {expected}; reshape x to (examples, {', '.join(map(str, expected))}).")


def check_probabilities(what: str, probabilities: np.ndarray) -> None:
    """Refuse rows (along the last axis) that are not probability distributions, naming the first few."""
    probabilities = np.asarray(probabilities)
    if probabilities.size == 0:
        raise ValueError(f"{what} needs predictions: the array is empty.")
    rows = probabilities.reshape(-1, probabilities.shape[-1])
    sums = rows.sum(axis=1)
    bad = np.flatnonzero(~np.isfinite(sums) | (rows < 0).any(axis=1) | ~np.isclose(sums, 1, atol=1e-3))
    if bad.size:
        raise ValueError(f"{what}: rows {bad[:5].tolist()}{' ...' if bad.size > 5 else ''} are not probabilities: "
                         f"each row must be non-negative and sum to 1 (row {bad[0]} sums to {sums[bad[0]]:.3g}). "
                         "Pass the model's softmax outputs (e.g. model.predict(x)), or apply keras.ops.softmax "
                         "to logits.")
