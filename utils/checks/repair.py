"""Checkers for the repairs of notebooks 09 and 10: recalibrating the statistics, folding into the next layer."""

from collections.abc import Callable

import keras
import numpy as np

from utils.bn import moving_statistics
from utils.checks.report import CLASSES, FEATURES, Report, exercise_data, run_learner_code, seeded_model
from utils.data import off_centre_batch


def _layer_input_statistics(model: keras.Model, layer: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the variance (divided by N) of what `layer` receives on `x` in inference mode."""
    inputs = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer(layer).input)(x, training=False))
    return inputs.astype(np.float64).mean(axis=0), inputs.astype(np.float64).var(axis=0)


def check_recalibration(repair: Callable) -> Report:
    """Exercise: `repair(model, x_train, x_test)` must give BN the exact statistics of the training inputs."""
    exercise = "honest statistics for a freshly trained model"
    model, (x_train, y_train) = seeded_model(), exercise_data()
    x_test, _ = off_centre_batch(64, FEATURES, mean=-2.0, std=1.0, classes=CLASSES, seed=1)
    model.fit(x_train, y_train, batch_size=16, epochs=2, verbose=0)
    stale = moving_statistics(model)["batchnorm"]
    statistics = {id(model.get_layer("batchnorm").moving_mean), id(model.get_layer("batchnorm").moving_variance)}
    others = [(w, keras.ops.convert_to_numpy(w)) for w in model.weights if id(w) not in statistics]
    _, failed = run_learner_code(exercise, repair, model, x_train.copy(), x_test.copy())
    if failed:
        return failed
    changed = [w.path for w, value in others if not np.array_equal(value, keras.ops.convert_to_numpy(w))]
    problems = []
    if changed:
        problems.append(f"Your repair changed {changed}: only the moving statistics should change. Calling "
                        "fit or train_on_batch trains the weights too.")
    mean, variance = moving_statistics(model)["batchnorm"]
    train_mean, train_variance = _layer_input_statistics(model, "batchnorm", x_train)
    test_mean, _ = _layer_input_statistics(model, "batchnorm", x_test)
    if np.allclose(mean, train_mean, rtol=1e-3, atol=1e-5) and np.allclose(variance, train_variance,
                                                                           rtol=1e-3, atol=1e-5):
        return Report(exercise, problems)
    if np.array_equal(mean, stale[0]) and np.array_equal(variance, stale[1]):
        problems.append("The moving statistics are unchanged: still the stale values training left, which "
                        "lag behind what the layer's inputs really are.")
    elif np.abs(mean - test_mean).mean() < np.abs(stale[0] - test_mean).mean():
        problems.append("The moving statistics moved toward the test inputs' statistics: the test set leaked "
                        "into the model, and its score is no longer a fair one. Take them from x_train.")
    elif np.allclose(mean, train_mean, rtol=1e-3, atol=1e-5):
        problems.append("The moving means are right; the variances are not. BatchNormalization's moving "
                        "variance is the variance divided by N (numpy's default, ddof=0).")
    else:
        problems.append("The moving statistics are not those of the training inputs. Calls in training mode "
                        "move them only part of the way (by 1 - momentum per batch).")
    problems.append("Set them exactly: utils.recalibrate_batchnorm(model, x_train), or assign the mean and "
                    "variance of what the layer receives over x_train, in inference mode, to "
                    "moving_mean and moving_variance.")
    return Report(exercise, problems)


def check_fold_into_next(fold: Callable) -> Report:
    """Exercise: `fold(batchnorm, dense)` must return the Dense's (kernel, bias) with the BN folded in."""
    exercise = "folding a BatchNormalization that follows a ReLU into the next Dense"
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(8, activation="relu", name="dense")(inputs)
    normalised = keras.layers.BatchNormalization(name="batchnorm")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, name="head")(normalised))
    batchnorm, head = model.get_layer("batchnorm"), model.get_layer("head")
    rng = np.random.default_rng(0)
    for variable, value in zip(batchnorm.weights, (rng.uniform(0.5, 2, 8), rng.normal(0, 1, 8),
                                                   rng.normal(1, 1, 8), rng.uniform(0.1, 4, 8))):
        variable.assign(value.astype("float32"))  # gamma, beta, moving mean, moving variance
    x, _ = exercise_data()
    result, failed = run_learner_code(exercise, fold, batchnorm, head)
    if failed:
        return failed
    try:
        kernel, bias = (keras.ops.convert_to_numpy(part).astype(np.float64) for part in result)
    except (TypeError, ValueError):
        return Report(exercise, [f"Return two arrays, (kernel, bias); got {type(result).__name__}."])
    old_kernel, old_bias = head.get_weights()
    if kernel.shape != old_kernel.shape or bias.shape != old_bias.shape:
        return Report(exercise, [f"Keep the Dense's shapes: kernel {old_kernel.shape} and bias {old_bias.shape}; "
                                 f"got {kernel.shape} and {bias.shape}."])
    gamma, beta, mean, variance = (w.astype(np.float64) for w in batchnorm.get_weights())
    scale = gamma / np.sqrt(variance + batchnorm.epsilon)
    shift = beta - scale * mean
    features = keras.ops.convert_to_numpy(keras.Model(inputs, hidden)(x)).astype(np.float64)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    if np.abs(features @ kernel + bias - expected).max() <= 1e-4:
        return Report(exercise, [])
    problems = []
    if not np.allclose(kernel, old_kernel * scale[:, None], rtol=1e-5, atol=1e-6):
        if np.allclose(kernel, old_kernel * (gamma / np.sqrt(variance))[:, None], rtol=1e-5, atol=1e-6):
            problems.append("The kernel leaves out epsilon: scale = gamma / sqrt(moving_variance + epsilon).")
        else:
            problems.append("The kernel is not right. BatchNormalization turns input i into scale[i] * x[i] + "
                            "shift[i], with scale = gamma / sqrt(moving_variance + epsilon); the next Dense "
                            "multiplies input i by row i of its kernel, so row i gets scale[i]: "
                            "kernel * scale[:, None].")
    if np.allclose(bias, old_bias):
        problems.append("The bias is unchanged, so the shift is lost: shift = beta - scale * moving_mean is "
                        "added to every input, and the Dense turns it into shift @ kernel, a constant that "
                        "belongs in the bias: bias + shift @ kernel (the original kernel).")
    elif not np.allclose(bias, old_bias + shift @ old_kernel, rtol=1e-5, atol=1e-5):
        problems.append("The bias is not right: it should be bias + shift @ kernel, with the original kernel "
                        "and shift = beta - scale * moving_mean.")
    return Report(exercise, problems or ["The outputs differ from the model's, though kernel and bias look "
                                         "right: check the dtypes (float32)."])
