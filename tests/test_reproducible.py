"""Every notebook, run in a fresh kernel, reproduces its checked outputs; run again, it raises nothing.

Slow (each notebook runs twice), so it has its own marker: `.ci/run` runs it (in `.venv`
it is the notebooks' only run), or run `python -m pytest -m reproducibility`.
"""

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CHECKED = "# NBVAL_CHECK_OUTPUT"


def _coalesced(outputs: list) -> list:
    """Outputs with consecutive stdout chunks joined, as a reader sees them (and as nbval compares them).

    How a kernel splits one cell's printing into chunks depends on timing, not on the notebook.
    """
    joined = []
    for output in outputs:
        output = {key: value for key, value in output.items() if key not in ("execution_count", "metadata")}
        if joined and output.get("name") == "stdout" and joined[-1].get("name") == "stdout":
            joined[-1] = {**joined[-1], "text": joined[-1]["text"] + output["text"]}
        else:
            joined.append(output)
    return joined


def _checked_outputs(notebook) -> list:
    """What each checked cell printed or returned, without stderr and execution counts."""
    return [_coalesced([output for output in cell.get("outputs", []) if output.get("name") != "stderr"])
            for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith(CHECKED)]


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
        assert _checked_outputs(notebook) == _checked_outputs(stored)
        again = copy.deepcopy(stored)
        for index, cell in enumerate(again.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError on any error
