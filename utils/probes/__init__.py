"""See which `training` value reaches a layer, and what BN and Dropout then do.

`TrainingProbe` records the `training` value its `call` receives.
`behaviour_matrix()` builds small probe models in several styles, runs each
way of calling a model once, and reports, per run, what a probe received and
what BatchNormalization and Dropout actually did, all measured.

Run `python -m utils.probes` to print the matrix of the installed Keras as
JSON, or `python -m utils.probes --legacy` for Keras 2 (tf-keras).
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from utils.quiet import import_tensorflow_quietly

# Set to "tf_keras" to measure legacy Keras 2 instead of the installed Keras 3.
KERAS_ENV = "TRAINING_LAB_KERAS"

import_tensorflow_quietly()
import tensorflow as tf  # noqa: E402

if os.environ.get(KERAS_ENV) == "tf_keras":
    import tf_keras as keras
else:
    import keras

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

_TRAINING_CODES = {-1.0: None, 0.0: False, 1.0: True}
_BATCH = 32
_FEATURES = 4


class TrainingProbe(keras.layers.Layer):
    """A pass-through layer that records the `training` value its `call` receives.

    The value is stored in a variable as the call runs, so it is the value a
    real step used, in eager and in graph mode alike; read it as `received`.
    """

    def build(self, input_shape):
        self._code = self.add_weight(
            name="training_code", shape=(), initializer="zeros", trainable=False
        )
        self._code.assign(-2.0)  # Not called yet.

    def call(self, inputs, training=None):
        code = -1.0 if training is None else tf.cast(training, "float32")
        self._code.assign(code)
        return inputs

    @property
    def received(self) -> bool | None:
        """`True`, `False` or `None`: the `training` value of the last call."""
        code = float(_numpy(self._code))
        if code not in _TRAINING_CODES:
            raise RuntimeError(f"{self.name} has not been called in a run yet.")
        return _TRAINING_CODES[code]

    def reset(self) -> None:
        """Forget the last recorded value."""
        self._code.assign(-2.0)


class _Tap(keras.layers.Layer):
    """A pass-through layer that keeps a copy of the last batch it saw."""

    def build(self, input_shape):
        self.value = self.add_weight(
            name="value", shape=tuple(input_shape), initializer="zeros", trainable=False
        )

    def call(self, inputs):
        self.value.assign(inputs)
        return inputs


@dataclasses.dataclass
class ProbeModel:
    """A model built for measuring, and the layers the measurement reads."""

    model: keras.Model
    probe: TrainingProbe
    batchnorm: keras.layers.BatchNormalization
    batchnorm_out: _Tap
    dropout_out: _Tap


class _Block:
    """The measured layers: probe -> BatchNormalization -> tap -> Dropout -> tap."""

    def __init__(self):
        self.probe = TrainingProbe(name="probe")
        self.batchnorm = keras.layers.BatchNormalization(name="batchnorm")
        self.batchnorm_out = _Tap(name="batchnorm_out")
        self.dropout = keras.layers.Dropout(0.5, seed=0, name="dropout")
        self.dropout_out = _Tap(name="dropout_out")

    def layers(self) -> list:
        return [self.probe, self.batchnorm, self.batchnorm_out, self.dropout, self.dropout_out]

    def __call__(self, x, training=None):
        """Chain the layers, passing `training` only when it is not None."""
        kwargs = {} if training is None else {"training": training}
        x = self.probe(x, **kwargs)
        x = self.batchnorm_out(self.batchnorm(x, **kwargs))
        return self.dropout_out(self.dropout(x, **kwargs))

    def probe_model(self, model: keras.Model) -> ProbeModel:
        return ProbeModel(model, self.probe, self.batchnorm, self.batchnorm_out, self.dropout_out)


def _input():
    return keras.Input((_FEATURES,), batch_size=_BATCH, name="x")


def _head():
    return keras.layers.Dense(1, name="head")


def _sequential() -> ProbeModel:
    block = _Block()
    model = keras.Sequential([_input(), *block.layers(), _head()])
    return block.probe_model(model)


def _functional(built_training: bool | None = None) -> ProbeModel:
    block = _Block()
    inputs = _input()
    outputs = _head()(block(inputs, training=built_training))
    return block.probe_model(keras.Model(inputs, outputs))


class _SubclassedProbeModel(keras.Model):
    """A subclassed model whose `call` passes `training` to each layer itself."""

    def __init__(self):
        super().__init__(name="subclassed")
        self.block = _Block()
        self.tracked = self.block.layers()  # a list attribute makes Keras track the layers
        self.head = _head()

    def call(self, inputs, training=None):
        block = self.block
        x = block.probe(inputs, training=training)
        x = block.batchnorm_out(block.batchnorm(x, training=training))
        return self.head(block.dropout_out(block.dropout(x, training=training)))


def _subclassed() -> ProbeModel:
    model = _SubclassedProbeModel()
    model(np.zeros((_BATCH, _FEATURES), "float32"))
    return model.block.probe_model(model)


def _nested_base(frozen: bool) -> ProbeModel:
    functional = _functional()
    base = functional.model
    base.trainable = not frozen
    inputs = _input()
    outputs = _head()(base(inputs, training=False))
    return dataclasses.replace(functional, model=keras.Model(inputs, outputs))


class _LayerWithoutTrainingArg(keras.layers.Layer):
    """A custom layer whose `call` has no `training` argument at all."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = _Block()
        self.tracked = self.block.layers()  # a list attribute makes Keras track the layers

    def build(self, input_shape):
        for layer in self.block.layers():
            layer.build(input_shape)

    def call(self, inputs):
        return self.block(inputs)


def _custom_layer() -> ProbeModel:
    layer = _LayerWithoutTrainingArg(name="custom")
    inputs = _input()
    return layer.block.probe_model(keras.Model(inputs, _head()(layer(inputs))))


SCENARIOS: dict[str, tuple[str, Callable[[], ProbeModel]]] = {
    "sequential": ("Sequential model, nothing passed", _sequential),
    "functional": ("Functional model, nothing passed", _functional),
    "subclassed": ("subclassed model whose call passes training on", _subclassed),
    "functional_built_training_false": (
        "Functional, BN and Dropout called with training=False while building",
        lambda: _functional(built_training=False),
    ),
    "functional_built_training_true": (
        "Functional, BN and Dropout called with training=True while building",
        lambda: _functional(built_training=True),
    ),
    "nested_base_training_false": (
        "trainable base model called as base(inputs, training=False)",
        lambda: _nested_base(frozen=False),
    ),
    "nested_base_frozen": (
        "the same base with base.trainable = False",
        lambda: _nested_base(frozen=True),
    ),
    "custom_layer_without_training_arg": (
        "custom layer whose call takes no training, with BN and Dropout inside",
        _custom_layer,
    ),
}


def _data() -> tuple[np.ndarray, np.ndarray]:
    """One batch whose mean and variance are far from BN's initial 0 and 1."""
    rng = np.random.default_rng(0)
    x = (5.0 + 2.0 * rng.standard_normal((_BATCH, _FEATURES))).astype("float32")
    y = rng.standard_normal((_BATCH, 1)).astype("float32")
    return x, y


def run_call(model: keras.Model, call: str, x, y, batch_size: int = _BATCH) -> None:
    """Run a compiled `model` once in the way named by `call` (one of `CALLS`)."""
    _check_names([call], CALLS, "call")
    if call == "fit":
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    elif call == "evaluate":
        model.evaluate(x, y, batch_size=batch_size, verbose=0)
    elif call == "predict":
        model.predict(x, batch_size=batch_size, verbose=0)
    else:
        training = {"call": None, "call_training_true": True, "call_training_false": False}
        model(x, training=training[call])


def _numpy(variable) -> np.ndarray:
    """A copy of a variable's value, for Keras 3 and Keras 2 alike."""
    return tf.convert_to_tensor(variable).numpy()


def _batchnorm_state(layer) -> dict[str, np.ndarray]:
    names = ("gamma", "beta", "moving_mean", "moving_variance")
    return {name: _numpy(getattr(layer, name)) for name in names}


def _used_batch_statistics(x: np.ndarray, output: np.ndarray, state: dict, epsilon: float) -> bool:
    """Tell which statistics BN normalised `x` with, from its `output`."""
    def normalise(mean, variance):
        return state["gamma"] * (x - mean) / np.sqrt(variance + epsilon) + state["beta"]

    with_batch = normalise(x.mean(axis=0), x.var(axis=0))
    with_moving = normalise(state["moving_mean"], state["moving_variance"])
    if np.allclose(output, with_batch, atol=1e-4):
        return True
    if np.allclose(output, with_moving, atol=1e-4):
        return False
    raise RuntimeError("BatchNormalization's output matches neither mode.")


def _measure(scenario: str, call: str) -> dict:
    """Build the scenario's model, run it once as `call` says, report what happened."""
    probed = SCENARIOS[scenario][1]()
    probed.model.compile(optimizer="sgd", loss="mse")
    probed.probe.reset()
    x, y = _data()
    before = _batchnorm_state(probed.batchnorm)
    run_call(probed.model, call, x, y)
    after = _batchnorm_state(probed.batchnorm)
    bn_output = _numpy(probed.batchnorm_out.value)
    return {
        "keras_version": keras.__version__,
        "scenario": scenario,
        "call": call,
        "probe_training": probed.probe.received,
        "bn_updated": not (
            np.array_equal(before["moving_mean"], after["moving_mean"])
            and np.array_equal(before["moving_variance"], after["moving_variance"])
        ),
        "bn_used_batch_stats": _used_batch_statistics(
            x, bn_output, before, probed.batchnorm.epsilon
        ),
        "dropout_active": not np.array_equal(_numpy(probed.dropout_out.value), bn_output),
    }


def _check_names(given: Iterable[str] | None, known: Iterable[str], what: str) -> list[str]:
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
        One dict per pair with the keys `keras_version`, `scenario`, `call`,
        `probe_training`, `bn_updated`, `bn_used_batch_stats`, `dropout_active`.
    """
    scenarios = _check_names(scenarios, SCENARIOS, "scenario")
    calls = _check_names(calls, CALLS, "call")
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
    images = np.random.default_rng(0).normal(5.0, 2.0, size=(_BATCH, 4, 4, 1)).astype("float32")
    probe = TrainingProbe(name="probe")
    batchnorm = keras.layers.BatchNormalization(name="batchnorm")
    flip_out = _Tap(name="flip_out")
    base_inputs = keras.Input((4, 4, 1), batch_size=_BATCH)
    base = keras.Model(base_inputs, batchnorm(probe(base_inputs)), name="base")
    inputs = keras.Input((4, 4, 1), batch_size=_BATCH)
    augmented = flip_out(keras.layers.RandomFlip("horizontal", seed=0)(inputs))
    kwargs = {} if base_training is None else {"training": base_training}
    model = keras.Model(inputs, base(augmented, **kwargs))
    report = {}
    for call in ("call", "predict"):
        probe.reset()
        before = _numpy(batchnorm.moving_mean)
        run_call(model, call, images, None)
        report[call] = {
            "flipped": not np.array_equal(_numpy(flip_out.value), images),
            "base_training": probe.received,
            "bn_updated": not np.array_equal(before, _numpy(batchnorm.moving_mean)),
        }
    return report


def legacy_available() -> bool:
    """Whether tf-keras (Keras 2) is installed, so the legacy matrix can run."""
    return importlib.util.find_spec("tf_keras") is not None


LEGACY_MISSING = (
    "tf-keras (Keras 2) is not installed, so the Keras 2 column cannot be "
    "measured. Install the release that matches your TensorFlow, e.g. "
    "pip install \"tf-keras~={tf_minor}.0\"."
)


def legacy_behaviour_matrix(
    scenarios: Iterable[str] | None = None, calls: Iterable[str] | None = None
) -> list[dict]:
    """Measure the same matrix under tf-keras (Keras 2), in a fresh process.

    Keras 2 and Keras 3 cannot share one process cleanly, so this runs
    `python -m utils.probes` with tf-keras selected and reads its JSON.
    """
    scenarios = _check_names(scenarios, SCENARIOS, "scenario")
    calls = _check_names(calls, CALLS, "call")
    if not legacy_available():
        raise RuntimeError(LEGACY_MISSING.format(tf_minor=tf.__version__.rsplit(".", 1)[0]))
    command = [sys.executable, "-m", "utils.probes", "--scenario", *scenarios, "--call", *calls]
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, KERAS_ENV: "tf_keras"},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"The Keras 2 run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def construction_time_value_wins(rows: list[dict]) -> bool:
    """Whether `fit` kept a `training=False` written into a Functional graph.

    Read from the `functional_built_training_false` / `fit` row: True on
    Keras 2, False on Keras 3.0 to 3.15 where fit's `training=True` overrides it.
    """
    for row in rows:
        if (row["scenario"], row["call"]) == ("functional_built_training_false", "fit"):
            return row["probe_training"] is False
    raise ValueError("rows has no functional_built_training_false / fit row; measure it first.")


def matrix_frame(rows: list[dict]):
    """The matrix as a pandas DataFrame, one row per (scenario, call), no version column."""
    import pandas as pd

    columns = ["scenario", "call", "probe_training", "bn_updated", "bn_used_batch_stats",
               "dropout_active"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["probe_training"] = frame["probe_training"].map(str)
    return frame


def matrix_pivot(rows: list[dict], value: str = "probe_training"):
    """One column of the matrix as a scenario-by-call table, in the order of `SCENARIOS`.

    The columns are named as the calls are written in code (`CALL_LABELS`).
    """
    frame = matrix_frame(rows).pivot(index="scenario", columns="call", values=value)
    frame = frame.loc[[s for s in SCENARIOS if s in frame.index], [c for c in CALLS if c in frame]]
    return frame.rename(columns=CALL_LABELS)


def main(argv: list[str] | None = None) -> int:
    """Print the behaviour matrix as a JSON list."""
    parser = argparse.ArgumentParser(prog="python -m utils.probes", description=main.__doc__)
    parser.add_argument("--legacy", action="store_true", help="measure tf-keras (Keras 2)")
    parser.add_argument("--scenario", nargs="+", choices=list(SCENARIOS), help="default: all")
    parser.add_argument("--call", nargs="+", choices=CALLS, help="default: all")
    args = parser.parse_args(argv)
    try:
        if args.legacy:
            rows = legacy_behaviour_matrix(args.scenario, args.call)
        else:
            rows = behaviour_matrix(args.scenario, args.call)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=1))
    return 0
