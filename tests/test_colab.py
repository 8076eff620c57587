import json
import re
from pathlib import Path

import ipywidgets
import pytest

from tools.colab import BACKEND_CHOICE, REPOSITORY, SETUP_CELL, badge, pin, setup_cell, setup_source, sync

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_notebook_starts_with_the_shared_setup_cell():
    for path in NOTEBOOKS:
        setup = setup_cell(json.loads(path.read_text())["cells"])
        assert "".join(setup["source"]) == SETUP_CELL, f"{path.name}: run python -m tools.colab"


def test_readme_has_a_colab_badge_for_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert badge(path.name) in readme, f"{path.name}: run python -m tools.colab"


def test_every_notebook_shows_its_own_colab_badge_under_its_title():
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        title = next(cell for cell in cells if cell["cell_type"] == "markdown")
        assert badge(path.name) in "".join(title["source"]), f"{path.name}: run python -m tools.colab"


def _notebook(title: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": title},
                      {"cell_type": "code", "metadata": {}, "source": "", "outputs": [], "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_sync_rewrites_a_stale_badge_and_adds_a_missing_one(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "README.md").write_text("# Lab\n")
    stale = "# One\n\n[![Open In Colab](https://x/badge.svg)](https://colab.research.google.com/github/old/repo/blob/main/notebooks/one.ipynb)\n\nText."
    (tmp_path / "notebooks" / "one.ipynb").write_text(json.dumps(_notebook(stale)))
    (tmp_path / "notebooks" / "two.ipynb").write_text(json.dumps(_notebook("# Two\n\nText.")))

    assert sync(tmp_path) == ["notebooks/one.ipynb", "notebooks/two.ipynb"]
    for name in ("one.ipynb", "two.ipynb"):
        title = "".join(json.loads((tmp_path / "notebooks" / name).read_text())["cells"][0]["source"])
        assert badge(name) in title and "old/repo" not in title
        assert title.endswith("Text.")
    assert sync(tmp_path) == []


def test_sync_keeps_a_backend_choice_and_writes_the_setup_cell_after_it(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "README.md").write_text("# Lab\n")
    notebook = _notebook("# Jax\n\nText.")
    choice = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": BACKEND_CHOICE + ": this notebook runs on JAX.\nimport os"}
    notebook["cells"].insert(1, choice)
    (tmp_path / "notebooks" / "jax.ipynb").write_text(json.dumps(notebook))

    sync(tmp_path)
    cells = json.loads((tmp_path / "notebooks" / "jax.ipynb").read_text())["cells"]
    assert "".join(cells[1]["source"]).startswith(BACKEND_CHOICE)
    assert "".join(cells[2]["source"]) == SETUP_CELL


def test_the_setup_cell_checks_out_the_pinned_ref():
    source = setup_source(REPOSITORY, "v1.2")
    assert '["git", "-C", "keras-training-modes-lab", "checkout", "--quiet", "v1.2"]' in source
    assert "upload it in the Files panel" in source  # what to do when the clone fails


def test_sync_writes_the_pinned_ref_into_every_badge_and_setup_cell(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "README.md").write_text(badge("one.ipynb") + "\n")
    (tmp_path / "notebooks" / "one.ipynb").write_text(json.dumps(_notebook("# One\n\nText.")))

    assert sync(tmp_path, ref="v1.2") == ["README.md", "notebooks/one.ipynb"]
    cells = json.loads((tmp_path / "notebooks" / "one.ipynb").read_text())["cells"]
    assert "/blob/v1.2/notebooks/one.ipynb" in "".join(cells[0]["source"])
    assert "".join(cells[1]["source"]) == setup_source(REPOSITORY, "v1.2")
    assert (tmp_path / "README.md").read_text() == badge("one.ipynb", ref="v1.2") + "\n"


def test_pin_rewrites_only_the_ref_line(tmp_path):
    module = tmp_path / "colab.py"
    original = (ROOT / "tools" / "colab.py").read_text()
    module.write_text(original)
    pin("0123abc", module)
    changed = [(a, b) for a, b in zip(original.splitlines(), module.read_text().splitlines()) if a != b]
    assert [b for _, b in changed] == ['REF = "0123abc"']


def test_pin_refuses_what_is_not_a_ref(tmp_path):
    with pytest.raises(ValueError, match="branch, a tag or a commit"):
        pin("main; rm -rf /", tmp_path / "colab.py")


def test_every_widget_the_helpers_use_exists_in_the_installed_ipywidgets():
    # Colab ships ipywidgets 7.7: its stage of .ci/run checks the helpers against it.
    used = {name for path in (ROOT / "utils").rglob("*.py")
            for name in re.findall(r"\bwidgets\.([A-Z]\w*)", path.read_text())}
    assert used and not [name for name in used if not hasattr(ipywidgets, name)]
