"""Dropout on purpose: Monte Carlo dropout that leaves BatchNormalization alone."""

import keras
import numpy as np

from utils.compat import is_functional, nested_layers
from utils.inputs import check_probabilities
from utils.repair import recalibrate_batchnorm


@keras.saving.register_keras_serializable(package="utils")
class MCDropout(keras.layers.Dropout):
    """Dropout that drops units in every call, training or not.

    For Monte Carlo dropout: unlike `model(x, training=True)`, it switches
    nothing else, so BatchNormalization stays in inference mode and its moving
    statistics never change.
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def with_mc_dropout(model: keras.Model) -> keras.Model:
    """A model that shares every layer of `model` but drops units in every call.

    Each Dropout layer is replaced by an MCDropout layer of the same rate; all
    other layers are the same objects, so the weights are shared, not copied.
    """
    if not is_functional(model):
        raise ValueError(
            f"with_mc_dropout needs a Sequential or Functional model; {model.name!r} is "
            f"subclassed. Use MCDropout instead of Dropout in its layers."
        )
    if not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers):
        raise ValueError(
            f"Model {model.name!r} has no Dropout layer, so Monte Carlo dropout would "
            "give the same prediction every time. Add a Dropout layer and train again."
        )

    def swap(layer):
        if isinstance(layer, keras.layers.Dropout) and not isinstance(layer, MCDropout):
            return MCDropout.from_config(layer.get_config())
        return layer

    return keras.models.clone_model(model, clone_function=swap)


def mc_predict(model: keras.Model, x, samples: int = 20, batch_size: int = 1000) -> np.ndarray:
    """`samples` stochastic predictions of `model` for `x`, shape (samples, len(x), outputs).

    Args:
        model: a model with MCDropout layers, e.g. from `with_mc_dropout`.
        x: the inputs.
        samples: how many forward passes.
        batch_size: inputs per forward pass.
    """
    if samples < 1:
        raise ValueError(f"mc_predict needs at least one pass, not samples={samples}; 20 is a usual choice.")
    if not any(isinstance(layer, MCDropout) for layer in [model, *nested_layers(model)]):
        raise ValueError(
            f"Model {model.name!r} has no MCDropout layer: every pass would give the same "
            "prediction. Pass utils.with_mc_dropout(model) instead."
        )
    return np.stack([model.predict(x, batch_size=batch_size, verbose=0) for _ in range(samples)])


def predictive_entropy(probabilities: np.ndarray) -> np.ndarray:
    """The entropy (nats) of each example's mean predicted distribution over the samples.

    Args:
        probabilities: shape (samples, examples, classes), as from `mc_predict`.

    Returns:
        Shape (examples,): 0 for a certain prediction, log(classes) at most.
    """
    check_probabilities("predictive_entropy", probabilities)
    mean = probabilities.mean(axis=0)
    return -np.sum(mean * np.log(np.clip(mean, 1e-12, None)), axis=1)


def _probabilities(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """`model`'s outputs for `x` in inference mode: plain calls, so a new model builds no predict function."""
    return np.concatenate([keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False))
                           for start in range(0, len(x), batch_size)])


LEAST_SURE = "errors in the least sure tenth"
LEAST_SURE_BY_SPREAD = "errors in the widest-spread tenth"


def least_sure_errors(uncertainty: np.ndarray, wrong: np.ndarray) -> float:
    """The error rate among the tenth of the examples with the highest `uncertainty`."""
    if uncertainty.shape != wrong.shape or len(wrong) < 10:
        raise ValueError(f"Need one uncertainty per example and at least 10 examples, got shapes "
                         f"{uncertainty.shape} and {wrong.shape}.")
    return float(wrong[np.argsort(uncertainty)[-(len(wrong) // 10):]].mean())


def _accuracy_and_confidence(probabilities: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, the mean probability of the predicted class, and `LEAST_SURE` ranked by predictive entropy."""
    wrong = probabilities.argmax(axis=1) != y
    return {"accuracy": float(np.mean(~wrong)), "confidence": float(probabilities.max(axis=1).mean()),
            LEAST_SURE: least_sure_errors(predictive_entropy(probabilities[None]), wrong)}


def recalibrated_copy(model: keras.Model, x: np.ndarray, dropping: bool) -> keras.Model:
    """A copy of `model` whose BatchNormalization statistics are the exact ones of their inputs over `x`.

    Args:
        dropping: take the statistics with Dropout dropping, as in training mode
            (what the moving statistics estimate), or with Dropout off, as in
            inference mode (what the layer meets when the model is used).
    """
    # Here, not at the top: utils.repair imports this module for its Monte Carlo scores.
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    # The Monte Carlo model shares the copy's BatchNormalization layers and runs them in inference mode.
    recalibrate_batchnorm(with_mc_dropout(copy) if dropping else copy, x)
    return copy


AS_TRAINED = "one pass, moving statistics as trained"
MONTE_CARLO = "Monte Carlo mean, moving statistics as trained"
RECALIBRATED_DROPPING = "one pass, statistics taken with Dropout dropping"
RECALIBRATED_OFF = "one pass, statistics taken with Dropout off"


def confidence_runs(model: keras.Model, x: np.ndarray, test: tuple, samples: int = 20) -> dict[str, dict[str, float]]:
    """Accuracy and mean confidence on `test`: one pass, the Monte Carlo mean, and two recalibrated copies.

    The copies (`recalibrated_copy` on the training inputs `x`) separate the two
    reasons a moving variance can be too large: the lag (statistics taken with
    Dropout dropping, as training sees them) and Dropout's own extra variance
    (statistics taken with Dropout off, as inference sees them).

    Returns:
        `{AS_TRAINED, MONTE_CARLO, RECALIBRATED_DROPPING, RECALIBRATED_OFF: {"accuracy", "confidence",
        LEAST_SURE}}`, one seed's `measure` for `over_seeds`; `MONTE_CARLO` also has
        `LEAST_SURE_BY_SPREAD`, ranked by the standard deviation over the samples of the
        probability of the class the mean picks.
    """
    x_test, y_test = test
    predictions = mc_predict(with_mc_dropout(model), x_test, samples=samples)
    monte_carlo = predictions.mean(axis=0)
    runs = {AS_TRAINED: _probabilities(model, x_test), MONTE_CARLO: monte_carlo}
    for name, dropping in ((RECALIBRATED_DROPPING, True), (RECALIBRATED_OFF, False)):
        runs[name] = _probabilities(recalibrated_copy(model, x, dropping), x_test)
    results = {name: _accuracy_and_confidence(probabilities, y_test) for name, probabilities in runs.items()}
    picked = monte_carlo.argmax(axis=1)
    spread = predictions[:, np.arange(len(picked)), picked].std(axis=0)
    results[MONTE_CARLO][LEAST_SURE_BY_SPREAD] = least_sure_errors(spread, picked != y_test)
    return results


BEFORE, AFTER = "before the passes", "after the passes with training=True"
PASSED, OTHERS = "accuracy on the digits passed", "accuracy on the other digits"
GAINED, GAINED_OTHERS = "digits gained among those passed", "digits gained among the others"


def leak_runs(model: keras.Model, x: np.ndarray, y: np.ndarray, seed: int, size: int = 500,
              passes: int = 20) -> dict[str, dict[str, float]]:
    """Trap 2 on a copy of `model`: `passes` calls `copy(digits, training=True)` on `size` digits drawn by `seed`.

    Only the images are passed, never the labels. The digits of `x` not drawn
    are the control: their accuracy can move only through what the passes did to
    the model in general.

    Returns:
        `{BEFORE, AFTER: {PASSED, OTHERS, GAINED, GAINED_OTHERS}}`: accuracies, and how
        many more digits the copy gets right than the model did (0 before); one seed's
        `measure` for `over_seeds`.
    """
    if not 0 < size < len(x):
        raise ValueError(f"size must leave digits out as the control: pass 1 to {len(x) - 1}, not {size}.")
    order = np.random.default_rng(seed).permutation(len(x))
    chosen, others = order[:size], order[size:]
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for _ in range(passes):
        copy(x[chosen], training=True)
    right = {name: _probabilities(m, x).argmax(axis=1) == y for name, m in ((BEFORE, model), (AFTER, copy))}
    return {name: {PASSED: right[name][chosen].mean(), OTHERS: right[name][others].mean(),
                   GAINED: int(right[name][chosen].sum() - right[BEFORE][chosen].sum()),
                   GAINED_OTHERS: int(right[name][others].sum() - right[BEFORE][others].sum())}
            for name in (BEFORE, AFTER)}
