"""Import TensorFlow without its start-up log lines; of TensorFlow's settings only log levels change."""

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def _stderr_to_devnull() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration of the block."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# The environment variables this module set because the reader had not: only log levels.
# How TensorFlow computes (oneDNN, threads) and which backend Keras uses stay the reader's.
SET_BY_UTILS: dict[str, str] = {}
_quieted = False


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up messages silenced, and quiet its Python logger, once.

    TensorFlow's C++ runtime writes lines such as "Could not find cuda
    drivers" straight to file descriptor 2 before any Python logging is set
    up; ipykernel forwards that descriptor into the notebook, where the lines
    would be stored as output. TensorFlow's C++ log level silences later
    ones (unless the reader set it), the rest is discarded while the import runs.
    """
    global _quieted
    if _quieted:
        return
    if "tensorflow" not in sys.modules:
        if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = SET_BY_UTILS["TF_CPP_MIN_LOG_LEVEL"] = "3"
        with _stderr_to_devnull():
            import tensorflow  # noqa: F401
    import tensorflow as tf

    # The notebooks build many small models on purpose; TensorFlow's
    # retracing advice about that would only bury the lesson. Set once, so
    # that a reader who sets it back keeps their level.
    tf.get_logger().setLevel("ERROR")
    _quieted = True
