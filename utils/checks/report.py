"""What every checker shares: its report, the small data and model it tries the learner's code on."""

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from utils.data import off_centre_batch
from utils.probes import TrainingProbe

FEATURES, CLASSES = 4, 3


@dataclass(repr=False)
class Report:
    """What a checker found: passed when there are no problems."""

    exercise: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.passed:
            return f"PASSED: {self.exercise}"
        return "\n".join([f"NOT YET: {self.exercise}", *(f"- {problem}" for problem in self.problems)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        if self.passed:
            return f"✅ **{self.exercise}**: passed."
        return "\n".join([f"❌ **{self.exercise}**: not yet.", "", *(f"- {p}" for p in self.problems)])


def exercise_data() -> tuple[np.ndarray, np.ndarray]:
    """A fresh copy for each check: the learner's code may change what it is given."""
    return off_centre_batch(64, FEATURES, mean=3.0, std=2.0, classes=CLASSES)


def seeded_model(probe: bool = False) -> keras.Model:
    """Dense -> (probe) -> BatchNormalization -> Dropout -> softmax, compiled, from seed 0."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,))
    x = keras.layers.Dense(8, name="dense")(inputs)
    if probe:
        x = TrainingProbe(name="probe")(x)
    x = keras.layers.BatchNormalization(name="batchnorm")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax", name="head")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def run_learner_code(exercise: str, call: Callable, *args):
    """Call the learner's code; an exception becomes a problem, not a crash."""
    try:
        return call(*args), None
    except Exception as error:  # the learner's code may raise anything
        return None, Report(exercise, [f"Your code raised {type(error).__name__}: {error}"])


def fit_again(exercise: str, model: keras.Model, x, y) -> Report | None:
    """Fit after the learner changed `trainable`; a refusal (the JAX backend) becomes a problem."""
    try:
        model.fit(x, y, batch_size=16, verbose=0)
    except ValueError as error:
        return Report(exercise, [
            f"After your change the next fit raised ValueError ({str(error).splitlines()[0][:120]}...): "
            "the optimizer was built for the old list of trainable weights. After changing trainable, "
            "compile the model again: call model.compile(...) again before fit."])
    return None
