"""The same matrix measured in a process of its own: under tf-keras (Keras 2), or on another backend."""

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from utils.backends import run_on
from utils.probes.keras_choice import KERAS_ENV, tf
from utils.probes.measure import CALLS, check_names
from utils.probes.scenarios import SCENARIOS


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
    scenarios = check_names(scenarios, SCENARIOS, "scenario")
    calls = check_names(calls, CALLS, "call")
    if not legacy_available():
        tf_minor = tf.__version__.rsplit(".", 1)[0] if tf else "2.X"
        raise RuntimeError(LEGACY_MISSING.format(tf_minor=tf_minor))
    command = [sys.executable, "-m", "utils.probes", "--scenario", *scenarios, "--call", *calls]
    done = subprocess.run(command, cwd=Path(__file__).resolve().parents[2],
                          env={**os.environ, KERAS_ENV: "tf_keras"}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"The Keras 2 run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def backend_behaviour_matrix(
    backend: str, scenarios: Iterable[str] | None = None, calls: Iterable[str] | None = None
) -> list[dict]:
    """Measure the same matrix on another Keras backend ("tensorflow" or "jax"), in a fresh process."""
    scenarios = check_names(scenarios, SCENARIOS, "scenario")
    calls = check_names(calls, CALLS, "call")
    return run_on(backend, "behaviour_matrix", scenarios=scenarios, calls=calls)
