import json
from pathlib import Path

from utils.colab import SETUP_CELL, badge

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_notebook_starts_with_the_shared_setup_cell():
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        first_code = next(cell for cell in cells if cell["cell_type"] == "code")
        assert "".join(first_code["source"]) == SETUP_CELL, f"{path.name}: run python -m utils.colab"


def test_readme_has_a_colab_badge_for_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert badge(path.name) in readme, f"{path.name}: run python -m utils.colab"

