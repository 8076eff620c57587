"""The Keras backends the helpers are written and tested for: which one is in use, and another one."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import utils

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


def run_on(backend: str, function: str, **arguments) -> object:
    """Call `utils.<function>(**arguments)` on another Keras backend, in a fresh process.

    A process chooses its backend once, when Keras is first imported, so measuring
    another backend takes a process of its own.

    Args:
        backend: one of `BACKENDS`.
        function: the name of a function exported by `utils`.
        arguments: its arguments; they and its result must be plain JSON values.

    Returns:
        What the function returned there, read back from JSON.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; the helpers are tested on {list(BACKENDS)}.")
    if function not in utils.__all__:
        raise ValueError(f"run_on: utils has no public helper {function!r}; pass one of the names in utils.__all__.")
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        raise RuntimeError(f'JAX is not installed, so {function} cannot run on it: pip install "jax[cpu]".')
    code = ("import json, sys, utils; "
            "print(json.dumps(getattr(utils, sys.argv[1])(**json.loads(sys.argv[2]))))")
    done = subprocess.run([sys.executable, "-c", code, function, json.dumps(arguments)],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": backend})
    if done.returncode != 0:
        raise RuntimeError(f"utils.{function} failed on the {backend} backend:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])
