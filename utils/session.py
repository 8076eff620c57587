"""What a notebook's setup cell needs: seeds and the versions in use."""

import importlib.metadata
import os

import keras

from utils.compat import onednn_enabled


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
    why = "TensorFlow's default" if chosen is None else f"TF_ENABLE_ONEDNN_OPTS={chosen}, set before TensorFlow loaded"
    return f"oneDNN {state} ({why})"
