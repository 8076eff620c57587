"""What a notebook's setup cell needs: seeds and the versions in use."""

import importlib.metadata

import keras


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
