"""What a notebook's checked cells (`# NBVAL_CHECK_OUTPUT`) showed, in a form two runs can be compared in.

Shared by the reproducibility test (on `.venv`) and the Colab rehearsal (on Colab's versions).
"""

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


def checked_outputs(cells: list) -> list:
    """What each checked cell printed or returned, without stderr and execution counts."""
    return [_coalesced([output for output in cell.get("outputs", []) if output.get("name") != "stderr"])
            for cell in cells if cell.cell_type == "code" and cell.source.startswith(CHECKED)]
