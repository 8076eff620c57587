"""Run each way of calling a model once and measure what BatchNormalization and Dropout did."""

from collections.abc import Iterable

import numpy as np

from utils.arithmetic import batchnorm_state, used_batch_statistics
from utils.data import off_centre_batch
from utils.probes.keras_choice import keras
from utils.probes.layers import Tap, TrainingProbe
from utils.probes.scenarios import BATCH, BUILDERS, FEATURES, SCENARIOS

CALLS = ("fit", "evaluate", "predict", "call", "call_training_true", "call_training_false")
# How each call is written in code, for tables and figures.
CALL_LABELS = {
    "fit": "fit",
    "evaluate": "evaluate",
    "predict": "predict",
    "call": "model(x)",
    "call_training_true": "model(x, training=True)",
    "call_training_false": "model(x, training=False)",
}


def run_call(model: keras.Model, call: str, x, y, batch_size: int = BATCH) -> None:
    """Run a compiled `model` once in the way named by `call` (one of `CALLS`)."""
    check_names([call], CALLS, "call")
    if call == "fit":
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    elif call == "evaluate":
        model.evaluate(x, y, batch_size=batch_size, verbose=0)
    elif call == "predict":
        model.predict(x, batch_size=batch_size, verbose=0)
    else:
        training = {"call": None, "call_training_true": True, "call_training_false": False}
        model(x, training=training[call])


def _measure(scenario: str, call: str) -> dict:
    """Build the scenario's model, run it once as `call` says, report what happened."""
    probed = BUILDERS[scenario]()
    probed.model.compile(optimizer="sgd", loss="mse")
    probed.probe.reset()
    x, y = off_centre_batch(BATCH, FEATURES, mean=5.0, std=2.0)
    before = batchnorm_state(probed.batchnorm)
    run_call(probed.model, call, x, y)
    after = batchnorm_state(probed.batchnorm)
    bn_output = np.array(probed.batchnorm_out.value)
    return {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "scenario": scenario,
        "call": call,
        "probe_training": probed.probe.received,
        "bn_updated": not (
            np.array_equal(before["moving_mean"], after["moving_mean"])
            and np.array_equal(before["moving_variance"], after["moving_variance"])
        ),
        "bn_used_batch_stats": used_batch_statistics(
            x, bn_output, before, probed.batchnorm.epsilon
        ),
        "dropout_active": not np.array_equal(np.array(probed.dropout_out.value), bn_output),
    }


def check_names(given: Iterable[str] | None, known: Iterable[str], what: str) -> list[str]:
    """The `given` names, all of `known` when None; raise on a name that is not known."""
    known = list(known)
    if given is None:
        return known
    given = [given] if isinstance(given, str) else list(given)
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown}; choose from {known}.")
    return given


def behaviour_matrix(
    scenarios: Iterable[str] | None = None, calls: Iterable[str] | None = None
) -> list[dict]:
    """Measure every (scenario, call) pair on the installed Keras.

    Args:
        scenarios: names from `SCENARIOS`; all of them by default.
        calls: names from `CALLS`; all of them by default.

    Returns:
        One dict per pair with the keys `keras_version`, `backend`, `scenario`, `call`,
        `probe_training`, `bn_updated`, `bn_used_batch_stats`, `dropout_active`.
    """
    scenarios = check_names(scenarios, SCENARIOS, "scenario")
    calls = check_names(calls, CALLS, "call")
    keras.utils.set_random_seed(0)
    return [_measure(scenario, call) for scenario in scenarios for call in calls]


def training_by_call(model: keras.Model, probe: TrainingProbe, x, y) -> dict:
    """Run a compiled `model` each way in `CALLS`; return what `probe` received each time."""
    received = {}
    for call in CALLS:
        probe.reset()
        run_call(model, call, x, y, batch_size=min(len(x), 128))
        received[call] = probe.received
    return received


def augmentation_before_base(base_training: bool | None = None) -> dict:
    """Run `RandomFlip -> base` with a plain `model(x)` and `predict`; report what each did.

    The model is built as the transfer-learning guide builds it: augmentation first,
    then a base holding a probe and BatchNormalization, called with `base_training`
    (left out when None). RandomFlip's `call` defaults to `training=True`.

    Returns:
        `{"call": {...}, "predict": {...}}`, each with `flipped` (RandomFlip changed
        the images), `base_training` (what the base's probe received) and `bn_updated`.
    """
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).normal(5.0, 2.0, size=(BATCH, 4, 4, 1)).astype("float32")
    probe = TrainingProbe(name="probe")
    batchnorm = keras.layers.BatchNormalization(name="batchnorm")
    flip_out = Tap(name="flip_out")
    base_inputs = keras.Input((4, 4, 1), batch_size=BATCH)
    base = keras.Model(base_inputs, batchnorm(probe(base_inputs)), name="base")
    inputs = keras.Input((4, 4, 1), batch_size=BATCH)
    augmented = flip_out(keras.layers.RandomFlip("horizontal", seed=0)(inputs))
    kwargs = {} if base_training is None else {"training": base_training}
    model = keras.Model(inputs, base(augmented, **kwargs))
    report = {}
    for call in ("call", "predict"):
        probe.reset()
        before = np.array(batchnorm.moving_mean)
        run_call(model, call, images, None)
        report[call] = {
            "flipped": not np.array_equal(np.array(flip_out.value), images),
            "base_training": probe.received,
            "bn_updated": not np.array_equal(before, np.array(batchnorm.moving_mean)),
        }
    return report


def construction_time_value_wins(rows: list[dict]) -> bool:
    """Whether `fit` kept a `training=False` written into a Functional graph.

    Read from the `functional_built_training_false` / `fit` row: True on
    Keras 2, False on Keras 3.0 to 3.15 where fit's `training=True` overrides it.
    """
    for row in rows:
        if (row["scenario"], row["call"]) == ("functional_built_training_false", "fit"):
            return row["probe_training"] is False
    raise ValueError("rows has no functional_built_training_false / fit row; measure it first.")
