"""Importing the helpers quiets TensorFlow's start-up lines and changes nothing else about it."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.compat import ONEDNN_REPORT as REPORT

ROOT = Path(__file__).resolve().parents[1]


def python_with(code: str, onednn: str | None) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter whose TF_ENABLE_ONEDNN_OPTS is `onednn` (None: unset)."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    if onednn is not None:
        environment["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def after_import() -> tuple[dict, str]:
    """What a reader's process looks like after `import utils` and a first Keras call, and its stderr."""
    done = python_with("import json, os, utils; utils.seed_everything(0); import keras; keras.ops.ones(2); "
                       "from utils.quiet import SET_BY_UTILS; import tensorflow as tf; "
                       "tf.get_logger().setLevel('INFO'); "
                       "utils.effects_table; "
                       "print(json.dumps({'backend': os.environ.get('KERAS_BACKEND'), 'set': sorted(SET_BY_UTILS), "
                       "'path': utils.numeric_path(), 'untouched': utils.onednn_as_without_utils(), "
                       "'logger': tf.get_logger().level}))", None)
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def test_onednn_is_enabled_after_import_utils_exactly_when_it_is_without_utils():
    # The reader who set nothing: TensorFlow's default, which utils used to switch off.
    without_utils = python_with(f"import tensorflow; {REPORT}", None).stdout.split()[-1]
    with_utils = python_with(f"import utils; utils.seed_everything(0); {REPORT}", None).stdout.split()[-1]
    assert with_utils == without_utils


def test_numeric_path_names_tensorflows_default_when_the_reader_chose_nothing(after_import):
    assert after_import[0]["path"] in ("oneDNN on (TensorFlow's default)", "oneDNN off (TensorFlow's default)")


def test_numeric_path_names_the_variable_the_reader_set():
    printed = python_with("import utils; print(utils.numeric_path())", "0").stdout.strip()
    assert printed == "oneDNN off (TF_ENABLE_ONEDNN_OPTS=0 in the environment)"


def test_import_utils_leaves_the_keras_backend_to_the_reader(after_import):
    assert after_import[0]["backend"] is None


def test_import_utils_sets_only_the_log_level_and_says_so(after_import):
    assert after_import[0]["set"] == ["TF_CPP_MIN_LOG_LEVEL"]


def test_import_utils_keeps_tensorflow_start_up_lines_out_of_stderr(after_import):
    assert after_import[1] == ""


def test_onednn_as_without_utils_compares_with_a_fresh_python_that_never_imports_utils(after_import):
    assert after_import[0]["untouched"] is True


def test_a_logger_level_the_reader_sets_survives_the_next_helper_module_loading(after_import):
    assert after_import[0]["logger"] == logging.INFO
