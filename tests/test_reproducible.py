"""Every notebook, run in a fresh kernel, reproduces its checked outputs; run again, it raises nothing.

Slow (each notebook runs twice), so it has its own marker: `.ci/run` runs it (in `.venv`
it is the notebooks' only run, and checks more than nbval would), or run
`python -m pytest -m reproducibility`.
"""

import copy
from pathlib import Path

import nbformat
import pytest
from checked_outputs import checked_outputs
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.reproducibility
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_a_fresh_run_reproduces_the_checked_outputs_and_a_second_run_raises_nothing(path):
    stored = nbformat.read(path, as_version=4)
    notebook = copy.deepcopy(stored)
    client = NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(path.parent)}},
                            kernel_name="python3")
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        assert checked_outputs(notebook.cells) == checked_outputs(stored.cells)
        again = copy.deepcopy(stored)
        for index, cell in enumerate(again.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError on any error
