"""Every number a notebook's text states is one the notebook computed.

A number with a decimal point or a % sign in a markdown cell must appear, as the same
string, in an output of that notebook. Constants that are not measurements (a release
number, a default) are listed with their reason in the notebook's metadata under
`typed_numbers`. Code in the text (inline or fenced) and link targets are not claims.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
NUMBER = re.compile(r"(?<![\w.])\d*\.?\d+(?:\.\d+)*%?")
NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|\]\([^)]*\)|\$\$.*?\$\$", re.S)


def stated_numbers(markdown: str) -> list[str]:
    """The numbers with a decimal point or a % sign in the prose of `markdown`."""
    return [number for number in NUMBER.findall(NOT_PROSE.sub(" ", markdown))
            if "." in number or "%" in number]


def output_text(notebook: dict) -> str:
    """Everything the notebook's code cells printed or returned as text."""
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts.extend("".join(value) for kind, value in output.get("data", {}).items() if kind.startswith("text/"))
    return "\n".join(texts)


def test_stated_numbers_finds_decimals_and_percentages_in_prose_only():
    markdown = "Accuracy 95.4% after 2 epochs, momentum 0.99; `Dropout(0.5)`\n```python\nx = 0.1\n```"
    assert stated_numbers(markdown) == ["95.4%", "0.99"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_number_in_the_text_was_computed_by_the_notebook(path):
    notebook = json.loads(path.read_text())
    allowed = notebook["metadata"].get("typed_numbers", {})
    outputs = output_text(notebook)
    typed = [(index, number) for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "markdown"
             for number in stated_numbers("".join(cell["source"]))
             if number not in outputs and number not in allowed]
    assert not typed, (f"{path.name}: numbers typed into the text that no output shows (cell, number): {typed}. "
                       "Print them from a cell, or list a constant under metadata.typed_numbers with its reason.")
