"""Notebook 09's recalibration experiments: as trained against recalibrated, over training and over seeds."""

from collections.abc import Callable, Iterable, Sequence

import keras
import numpy as np
import pandas as pd

from utils.bn import keep_moving_statistics
from utils.dropout import predictive_entropy, with_mc_dropout
from utils.repair import copy_model, inference_scores, recalibrate_batchnorm
from utils.seeds import over_seeds

AS_TRAINED = "as trained"
DROPOUT_ON = "recalibrated with Dropout on"
RECALIBRATED = "recalibrated"
SCORES = ("accuracy", "cross-entropy", "confidence", "calibration error")


def recalibration_curve(model: keras.Model, train: tuple, test: tuple, checkpoints: Sequence[int],
                        batch_size: int = 32) -> pd.DataFrame:
    """Train `model` with `fit` and, at each checkpoint, score it on `test` as trained and recalibrated.

    The recalibrated scores come from `recalibrate_batchnorm` on the training inputs;
    the moving statistics are put back afterwards, so training goes on unchanged.

    Args:
        model: a compiled model with BatchNormalization.
        train: (x, y), in order, as many epochs as the last checkpoint needs.
        checkpoints: training steps after which to measure, increasing.

    Returns:
        One row per checkpoint (the index, `step`): each of `inference_scores`, with
        the columns `(score, "as trained")` and `(score, "recalibrated")`.
    """
    x, y = train
    batches = len(x) // batch_size
    if batches == 0 or list(checkpoints) != sorted(set(checkpoints)) or min(checkpoints) < 1:
        raise ValueError("checkpoints must be increasing step counts from 1, and train must hold at "
                         f"least one batch of {batch_size}; got {list(checkpoints)} and {len(x)} examples.")
    order = np.concatenate([np.arange(batches * batch_size)] * -(-max(checkpoints) // batches))
    rows, done = [], 0
    for step in checkpoints:
        chosen = order[done * batch_size:step * batch_size]
        model.fit(x[chosen], y[chosen], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        done = step
        trained = inference_scores(model, *test)
        with keep_moving_statistics(model):
            recalibrate_batchnorm(model, x)
            recalibrated = inference_scores(model, *test)
        rows.append({"step": step, **{(name, "as trained"): value for name, value in trained.items()},
                     **{(name, "recalibrated"): value for name, value in recalibrated.items()}})
    table = pd.DataFrame(rows).set_index("step")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def recalibration_parts(model: keras.Model, x: np.ndarray) -> dict[str, keras.Model]:
    """`model` beside two recalibrated copies, which split what recalibrating repairs into its two causes.

    `DROPOUT_ON`: each BatchNormalization gets the exact statistics of what it
    receives with Dropout dropping, as in training: the moving statistics' lag is
    gone, the extra variance Dropout adds in training stays. `RECALIBRATED`: the
    statistics of inference mode (Dropout off), where both are gone.

    Returns:
        `{AS_TRAINED: model, DROPOUT_ON: copy, RECALIBRATED: copy}`; `model` is not changed.
    """
    dropout_on, recalibrated = copy_model(model), copy_model(model)
    # with_mc_dropout shares the copy's layers, so its BatchNormalization gets the statistics.
    recalibrate_batchnorm(with_mc_dropout(dropout_on), x)
    recalibrate_batchnorm(recalibrated, x)
    return {AS_TRAINED: model, DROPOUT_ON: dropout_on, RECALIBRATED: recalibrated}


def mc_scores(model: keras.Model, x: np.ndarray, y: np.ndarray, samples: int = 10,
              share: float = 0.1) -> dict[str, float]:
    """Monte Carlo dropout on (x, y): accuracy of the mean prediction, and how sure its surest `share` is.

    The `samples` passes run as one `predict` over `samples` copies of `x` (each
    row draws its own Dropout mask), with BatchNormalization in inference mode.

    Returns:
        `accuracy`, `surest: accuracy` and `surest: confidence` (the surest `share` of
        the examples by predictive entropy), and `surest: |confidence - accuracy|`.
    """
    probabilities = with_mc_dropout(model).predict(np.concatenate([x] * samples), batch_size=1000, verbose=0)
    probabilities = probabilities.reshape(samples, len(x), -1)
    mean = probabilities.mean(axis=0)
    surest = np.argsort(predictive_entropy(probabilities))[:max(1, int(share * len(x)))]
    accuracy, confidence = np.mean(mean[surest].argmax(axis=1) == y[surest]), mean[surest].max(axis=1).mean()
    return {"accuracy": float(np.mean(mean.argmax(axis=1) == y)), "surest: accuracy": float(accuracy),
            "surest: confidence": float(confidence),
            "surest: |confidence - accuracy|": float(abs(confidence - accuracy))}


def recalibration_over_seeds(build: Callable[[], keras.Model], train: tuple, test: tuple,
                             checkpoints: Sequence[int], seeds: Iterable[int] = (0, 1, 2),
                             batch_size: int = 32) -> pd.DataFrame:
    """`recalibration_curve` over seeds: per seed a new `build()` model, trained on its own shuffle of `train`.

    Args:
        build: returns a new compiled model; called after seeding.

    Returns:
        `over_seeds`' table (`method` is `AS_TRAINED` or `RECALIBRATED`, `metric`
        e.g. "cross-entropy after 80 steps") with two more columns, `score` and `step`.
    """
    x, y = train
    names = {}

    def measure(seed: int) -> dict[str, dict[str, float]]:
        keras.utils.set_random_seed(seed)
        order = np.random.default_rng(seed).permutation(len(x))
        curve = recalibration_curve(build(), (x[order], y[order]), test, checkpoints, batch_size)
        names.update({f"{score} after {step} steps": (score, step) for step in curve.index for score in SCORES})
        return {variant: {name: curve.loc[step, (score, variant)] for name, (score, step) in names.items()}
                for variant in (AS_TRAINED, RECALIBRATED)}

    table = over_seeds(measure, seeds)
    table["score"] = [names[metric][0] for metric in table["metric"]]
    table["step"] = [names[metric][1] for metric in table["metric"]]
    return table
