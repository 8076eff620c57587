"""Every lesson is listed where readers look for it: the README's path, the teacher's guide, notebook 00's map."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
README = (ROOT / "README.md").read_text()


def _section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _rows_numbered(table: str) -> set[str]:
    """The two-digit numbers that start a row of a markdown table."""
    return set(re.findall(r"^\| (\d\d) ", table, flags=re.MULTILINE))


def _number(path: Path) -> str:
    return path.name[:2]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_is_linked_from_the_readme_path_table(path):
    assert f"](notebooks/{path.name})" in _section(README, "The path"), (
        f"{path.name}: add its row to the README's path table (see CONTRIBUTING.md)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_has_a_row_in_the_teachers_guide(path):
    assert _number(path) in _rows_numbered(_section(README, "Teacher's guide")), (
        f"{path.name}: add its row to the README's teacher's guide (see CONTRIBUTING.md)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_has_a_row_in_notebook_00s_map(path):
    start = json.loads(NOTEBOOKS[0].read_text())
    assert NOTEBOOKS[0].name.startswith("00_")
    text = "\n".join("".join(cell["source"]) for cell in start["cells"] if cell["cell_type"] == "markdown")
    assert _number(path) in _rows_numbered(text), f"{path.name}: add its row to notebook 00's map (see CONTRIBUTING.md)"


def test_the_readme_links_the_guide_to_adding_a_lesson():
    assert "(CONTRIBUTING.md)" in README and (ROOT / "CONTRIBUTING.md").exists()
