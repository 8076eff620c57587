"""The Keras backends the helpers are written and tested for, and a check for the one in use."""

# PyTorch's wheels are several GB, so the torch backend stays out of CI: untested, refused.
BACKENDS = ("tensorflow", "jax")


def check_backend(what: str) -> str:
    """The Keras backend in use; raise a clear error if `what` is not written for it."""
    # Imported here: the Keras 2 measurement reads BACKENDS without loading the Keras 3 helpers.
    import keras

    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise NotImplementedError(
            f"{what} is written and tested for the TensorFlow and JAX backends; this is "
            f"KERAS_BACKEND={backend}. Set KERAS_BACKEND=tensorflow or jax before importing Keras."
        )
    return backend
