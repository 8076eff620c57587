"""Colab, rehearsed: each notebook alone in an empty folder, as Colab opens it, run top to bottom.

`google.colab` is a stub loaded when the kernel starts, as Colab loads its own, so the
setup cell takes its Colab branch: it clones the repository, checks out the pinned ref
and imports the helpers from the clone. git's `url.<base>.insteadOf` sends the GitHub
address to this checkout, so nothing leaves the machine. Slow (a fresh kernel per
notebook), so it has its own marker: `.ci/run` runs it under Colab's versions, in
`.venv-colab`, with oneDNN on, where it is the notebooks' only run: the checked outputs
(`# NBVAL_CHECK_OUTPUT`) must be the stored ones there too. Or run `python -m pytest -m colab`.
"""

import copy
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from checked_outputs import checked_outputs
from nbclient import NotebookClient

from tools.colab import REF, REPOSITORY, setup_cell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FOLDER = REPOSITORY.split("/")[1]


@pytest.fixture(scope="module")
def colab_environment(tmp_path_factory) -> dict:
    """The kernel's environment: a stub google.colab at start-up, and GitHub redirected here."""
    verified = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{REF}^{{commit}}"],
                              capture_output=True)
    if verified.returncode != 0:
        pytest.fail(f"The setup cell checks out {REF!r}, which this checkout does not have: fetch it, "
                    "or pin a ref it has with python -m tools.colab --ref REF.")
    home = tmp_path_factory.mktemp("colab")
    stub = home / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    # No google/__init__.py: `google` stays a namespace package, shared with protobuf.
    (stub / "__init__.py").write_text('"""Stands in for Colab\'s own module in the rehearsal."""\n')
    # JAX imports google.colab.output whenever google.colab is loaded, as it is in Colab.
    (stub / "output.py").write_text('"""Stands in for Colab\'s output module: imported, never called here."""\n')
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(f"import sys\nsys.path.insert(0, {str(home / 'stub')!r})\n"
                                         "import google.colab\n")
    return {**os.environ, "IPYTHONDIR": str(home / "ipython"),
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{ROOT}.insteadOf",
            "GIT_CONFIG_VALUE_0": f"https://github.com/{REPOSITORY}"}


@pytest.mark.colab
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_a_notebook_opened_alone_fetches_its_helpers_reproduces_its_checked_outputs_and_can_set_up_again(
        path, colab_environment, tmp_path):
    shutil.copy(path, tmp_path / path.name)
    stored = nbformat.read(tmp_path / path.name, as_version=4)
    notebook = copy.deepcopy(stored)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    where = nbformat.v4.new_code_cell("import google.colab, utils\nprint(utils.__file__)")
    # After the notebook: its setup cell once more (a second run must be safe), then where utils came from.
    notebook.cells += [copy.deepcopy(setup_cell(notebook.cells)), where]
    with client.setup_kernel(env=colab_environment):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError on any error
    assert checked_outputs(notebook.cells[:len(stored.cells)]) == checked_outputs(stored.cells)
    printed = "".join(output.get("text", "") for output in where.outputs if output.get("name") == "stdout")
    assert Path(printed.strip()).is_relative_to(tmp_path / FOLDER)
    checked_out = subprocess.run(["git", "-C", str(tmp_path / FOLDER), "rev-parse", "HEAD"],
                                 capture_output=True, text=True).stdout
    assert checked_out == subprocess.run(["git", "-C", str(ROOT), "rev-parse", f"{REF}^{{commit}}"],
                                         capture_output=True, text=True).stdout
