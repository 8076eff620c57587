"""Test set-up shared by the unit tests and the notebook runs (nbval).

Set before anything imports TensorFlow; nbval's kernels inherit these too.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")


def _without_stderr(outputs):
    return [out for out in outputs if out.get("name") != "stderr"]


def pytest_configure(config):
    """Compare notebook outputs without stderr, which carries TensorFlow's log noise."""
    from nbval.plugin import IPyNbCell

    compare = IPyNbCell.compare_outputs

    def compare_without_stderr(self, test, ref, skip_compare=None):
        return compare(self, _without_stderr(test), _without_stderr(ref), skip_compare)

    IPyNbCell.compare_outputs = compare_without_stderr
