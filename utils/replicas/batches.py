"""Batches whose parts differ on purpose, and the one-layer model that measures them."""

import numpy as np

from utils.data import load_mnist_subset

# Replica, worker or device i sees only images of DIGITS[i], so that their batches differ.
DIGITS = (1, 0, 7, 8, 3, 4, 2, 5, 6, 9)
# Images per worker (or JAX device) and step in the measurements with several processes.
WORKER_BATCH = 16


def digit_batch(digits, per_digit: int, images: np.ndarray | None = None,
                labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`per_digit` training images of each of `digits`, one digit after the other.

    Split in equal parts over replicas, part i holds only `digits[i]`.

    Returns:
        `(x, y)`: images (n, 28, 28, 1) and their labels, from the offline MNIST subset
        unless `images` and `labels` are given.
    """
    if images is None:
        (images, labels), _ = load_mnist_subset()
    chosen = []
    for digit in digits:
        found = np.flatnonzero(labels == digit)[:per_digit]
        if len(found) < per_digit:
            raise ValueError(f"Only {len(found)} images of digit {digit}; ask for at most that many per digit.")
        chosen.append(found)
    chosen = np.concatenate(chosen)
    return images[chosen], labels[chosen]


def quadrant_ink(images: np.ndarray) -> np.ndarray:
    """The mean pixel value of each quarter of each image: four features a person can read.

    Returns:
        float32 of shape (n, 4): top left, top right, bottom left, bottom right.
    """
    half = images.shape[1] // 2
    quarters = [images[:, :half, :half], images[:, :half, half:], images[:, half:, :half], images[:, half:, half:]]
    return np.stack([quarter.reshape(len(images), -1).mean(axis=1) for quarter in quarters], axis=1).astype("float32")


def batchnorm_probe(keras_module, synchronized: bool, input_shape) -> tuple:
    """A model of one BatchNormalization layer (momentum 0) and a Dense layer, and that layer.

    With momentum 0 the moving statistics after a step are the statistics the step used.
    """
    inputs = keras_module.Input(input_shape)
    x = keras_module.layers.Flatten()(inputs)
    batchnorm = keras_module.layers.BatchNormalization(momentum=0.0, synchronized=synchronized, name="batchnorm")
    outputs = keras_module.layers.Dense(10, activation="softmax", name="classifier")(batchnorm(x))
    model = keras_module.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, batchnorm


def worker_features(workers: int) -> list[np.ndarray]:
    """What each worker (or device) trains on: the `quadrant_ink` of `WORKER_BATCH` images of `DIGITS[i]`."""
    images, _ = digit_batch(DIGITS[:workers], WORKER_BATCH)
    return [quadrant_ink(share) for share in np.split(images, workers)]


def check_workers(workers: int) -> None:
    """Raise a clear error unless `workers` is a count `DIGITS` has a digit for each of."""
    if not 1 <= workers <= len(DIGITS):
        raise ValueError(f"workers must be between 1 and {len(DIGITS)} (one digit each); got {workers}.")


def matching(values, candidates: dict[str, np.ndarray], rtol: float = 1e-4) -> str:
    """The name of the first candidate equal to `values` (within `rtol`), or "none of these"."""
    values = np.asarray(values, "float64")
    for name, candidate in candidates.items():
        if np.allclose(values, candidate, rtol=rtol, atol=1e-7):
            return name
    return "none of these"
