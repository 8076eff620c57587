"""What a notebook's setup cell needs: seeds, the versions in use and the numeric path."""

import importlib.metadata
import os
import subprocess
import sys

import keras

from utils.compat import ONEDNN_REPORT, onednn_enabled
from utils.quiet import SET_BY_UTILS


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and the Keras backend, so reruns give the same numbers."""
    keras.utils.set_random_seed(seed)


def versions() -> dict[str, str]:
    """The installed versions that the lessons depend on ("not installed" if absent)."""
    found = {}
    for package in ("tensorflow", "keras", "tf-keras", "ipywidgets", "matplotlib"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def numeric_path() -> str:
    """Which numeric path TensorFlow takes in this process (oneDNN on or off), and who chose it."""
    chosen = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    state = "on" if onednn_enabled() else "off"
    why = "TensorFlow's default" if chosen is None else f"TF_ENABLE_ONEDNN_OPTS={chosen} in the environment"
    return f"oneDNN {state} ({why})"


def onednn_as_without_utils() -> bool:
    """Whether oneDNN is on here exactly when it is in a fresh Python that never imports `utils`.

    The fresh Python gets this process's environment as it was before `utils` changed it.
    """
    environment = {key: value for key, value in os.environ.items() if key not in SET_BY_UTILS}
    done = subprocess.run([sys.executable, "-c", ONEDNN_REPORT], env=environment, capture_output=True,
                          text=True, check=True)
    return (done.stdout.split()[-1] == "True") == onednn_enabled()
