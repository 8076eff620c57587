"""Running a helper on the other backend, and refusing the ones not tested."""

import keras
import pytest

from utils import AFTER_COMPILE, STAYS_FROZEN, run_on


def other_backend() -> str:
    return "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"


def test_run_on_returns_what_the_helper_returns_on_the_other_backend():
    there = run_on(other_backend(), "next_fit_outcomes")
    assert there.keys() == AFTER_COMPILE.keys()
    assert there["fit, freeze, compile, fit"] == STAYS_FROZEN


def test_run_on_an_untested_backend_names_the_tested_ones():
    with pytest.raises(ValueError, match="jax"):
        run_on("torch", "versions")


def test_a_failing_helper_reports_the_other_backends_error():
    with pytest.raises(RuntimeError, match="load_mnist_subset failed on the .* backend(.|\n)*test_fraction=1.5"):
        run_on(other_backend(), "load_mnist_subset", test_fraction=1.5)

