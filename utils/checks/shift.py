"""Checkers for the data-shift lesson (11): adapting a model's statistics to shifted data."""

from collections.abc import Callable

import keras
import numpy as np

from utils.bn import moving_statistics
from utils.checks.repair import _layer_input_statistics
from utils.checks.report import CLASSES, FEATURES, Report, exercise_data, run_learner_code, seeded_model
from utils.data import off_centre_batch


def _trained_and_shifted() -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """A model trained on the exercise data, that data, and unlabeled inputs shifted away from it."""
    model, (x_train, y_train) = seeded_model(), exercise_data()
    model.fit(x_train, y_train, batch_size=16, epochs=2, verbose=0)
    shifted, _ = off_centre_batch(64, FEATURES, mean=-1.0, std=4.0, classes=CLASSES, seed=2)
    return model, x_train, shifted


def _values(model: keras.Model) -> list[np.ndarray]:
    """Every weight of `model`, moving statistics included, as arrays."""
    return [keras.ops.convert_to_numpy(w).copy() for w in model.weights]


def _statistics_problems(adapted: keras.Model, x_train: np.ndarray, shifted: np.ndarray) -> list[str]:
    """What is wrong with `adapted`'s moving statistics, which should be those of `shifted`."""
    mean, variance = moving_statistics(adapted)["batchnorm"]
    target_mean, target_variance = _layer_input_statistics(adapted, "batchnorm", shifted)
    if np.allclose(mean, target_mean, rtol=1e-3, atol=1e-5) and np.allclose(variance, target_variance,
                                                                            rtol=1e-3, atol=1e-5):
        return []
    train_mean, _ = _layer_input_statistics(adapted, "batchnorm", x_train)
    if np.allclose(mean, train_mean, rtol=1e-3, atol=1e-5):
        return ["The moving statistics are those of the training inputs: exact, but of the data the model "
                "already knew. The shift is in the new inputs; measure the statistics there "
                "(utils.recalibrate_batchnorm(copy, x_shifted)); they need no labels."]
    return ["The moving statistics are not those of the shifted inputs. Each call in training mode moves them "
            "1 - momentum (0.01 by default) of the way toward that batch's statistics: after a few calls they "
            "still hold the old ones, and after many they average batches' statistics, whose variance misses the "
            "spread between batches. Set them exactly: utils.recalibrate_batchnorm(copy, x_shifted)."]


def _checked(exercise: str, adapt: Callable, *arguments) -> Report:
    """Run `adapt(model, *arguments)` on the exercise's model and say what is wrong with what it did."""
    model, x_train, shifted = _trained_and_shifted()
    before = _values(model)
    inputs = {"x_train": x_train, "x_shifted": shifted}
    adapted, failed = run_learner_code(exercise, adapt, model, *(inputs[name].copy() for name in arguments))
    if failed:
        return failed
    if not isinstance(adapted, keras.Model):
        return Report(exercise, [f"Return the adapted model; got {type(adapted).__name__}."])
    problems = []
    if any(not np.array_equal(old, new) for old, new in zip(before, _values(model))):
        problems.append("The model you were given changed: the one in use is no longer the one that was "
                        "tested, and its old statistics are lost for good (a call with training=True updates "
                        "them). Work on a copy: adapted = utils.copy_model(model).")
    if adapted is model:
        problems.append("You returned the model you were given; return a copy, so both stay available.")
    trained = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    changed = [w.path for w, old in zip(adapted.trainable_weights, trained)
               if not np.array_equal(old, keras.ops.convert_to_numpy(w))]
    if changed:
        problems.append(f"The adapted model's {changed} differ from the original's: adapting the statistics "
                        "needs no training, and without labels there is nothing to train on.")
    return Report(exercise, problems + _statistics_problems(adapted, x_train, shifted))


def check_adapt_on_copy(adapt: Callable) -> Report:
    """Exercise: `adapt(model, x_shifted)` returns a copy with the shifted inputs' statistics, `model` unchanged."""
    return _checked("adapting to shifted inputs without harming the model in use", adapt, "x_shifted")


def check_recalibrate_on_target(adapt: Callable) -> Report:
    """Exercise: `adapt(model, x_train, x_shifted)` returns a copy with the shifted inputs' statistics."""
    return _checked("recalibrating on the data that shifted", adapt, "x_train", "x_shifted")
