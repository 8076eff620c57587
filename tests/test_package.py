"""The package face: one name table, imported lazily, every name listed for completion."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import utils

ROOT = Path(__file__).resolve().parents[1]


def fresh_python(code: str) -> str:
    """Run `code` in a new interpreter at the project root; return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_importing_utils_loads_neither_keras_nor_tensorflow():
    printed = fresh_python("import sys, utils; print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    assert printed == "False False"


def test_dir_lists_every_public_name_before_any_is_used():
    printed = fresh_python("import utils; print(sorted(set(utils.__all__) - set(dir(utils))))")
    assert printed == "[]"


def test_tab_completion_in_a_kernel_offers_the_public_names():
    # The completer API that ipykernel, and so JupyterLab, asks (jedi, then dir()).
    printed = fresh_python(
        "from IPython.core.completer import provisionalcompleter\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_cell('import utils')\n"
        "with provisionalcompleter():\n"
        "    print(sorted(c.text for c in shell.Completer.completions('utils.plot_re', 13)))")
    assert "'plot_recalibration'" in printed and "'plot_recipes'" in printed


def test_no_public_name_is_listed_under_two_modules():
    listed = [name for names in utils._NAMES_BY_MODULE.values() for name in names]
    assert len(listed) == len(set(listed)) == len(utils.__all__)


@pytest.mark.parametrize("module", sorted(utils._NAMES_BY_MODULE))
def test_every_public_name_is_the_object_its_module_defines(module):
    source = importlib.import_module(f"utils.{module}")
    for name in utils._NAMES_BY_MODULE[module]:
        assert getattr(utils, name) is getattr(source, name)


def test_a_submodule_is_reachable_as_an_attribute():
    assert utils.loops is importlib.import_module("utils.loops")


def test_an_unknown_name_raises_an_attribute_error_that_says_where_the_names_are():
    with pytest.raises(AttributeError, match=r"no attribute 'plot_everything'.*utils.__all__"):
        utils.plot_everything  # noqa: B018
