"""The data file: every measured row, and for each release and backend how it was installed, or why not."""

import json
from pathlib import Path

from packaging.version import Version

from tools.keras_history.environments import ROOT

HISTORY = ROOT / "data" / "keras_history.json"
COMMAND = "python -m tools.keras_history"
BACKEND_ORDER = ("tensorflow", "jax")


def empty() -> dict:
    """A history with nothing measured yet."""
    return {
        "made_by": COMMAND,
        "about": ("One row per Keras release, backend, scenario and call, as `python -m utils.probes` prints it, "
                  "with the backend's and NumPy's versions and the day measured. `releases` says per release and "
                  "backend how it was installed (status ok) or what failed (status failed)."),
        "releases": [],
        "environments": {},
        "rows": [],
    }


def load(path: Path = HISTORY) -> dict:
    """The stored history, or an empty one when the file does not exist yet."""
    return json.loads(path.read_text()) if path.exists() else empty()


def _order(keras_version: str, backend: str) -> tuple:
    return Version(keras_version), BACKEND_ORDER.index(backend)


def merge(history: dict, entry: dict, rows: list[dict], environment: dict | None = None) -> dict:
    """`history` with one release-and-backend's entry and rows replaced by these; the others kept.

    Args:
        entry: the release's record, with at least `keras_version` and `backend`.
        rows: its measured rows (none when it failed).
        environment: `{name: description}` of the base it ran on, kept under `environments`.

    Returns:
        A new history, releases and rows sorted by Keras version, then backend (TensorFlow first);
        rows of one release keep the order they were measured in.
    """
    key = (entry["keras_version"], entry["backend"])
    releases = [old for old in history["releases"] if (old["keras_version"], old["backend"]) != key] + [entry]
    kept = [row for row in history["rows"] if (row["keras_version"], row["backend"]) != key] + list(rows)
    return {
        **history,
        "releases": sorted(releases, key=lambda old: _order(old["keras_version"], old["backend"])),
        "environments": {**history["environments"], **(environment or {})},
        "rows": sorted(kept, key=lambda row: _order(row["keras_version"], row["backend"])),  # stable
    }


def dumps(history: dict) -> str:
    """The history as JSON text with one row per line, so that a diff shows which rows changed."""
    text = json.dumps({**history, "rows": []}, indent=1)
    rows = ",\n".join("  " + json.dumps(row) for row in history["rows"])
    return text.replace('"rows": []', '"rows": [\n' + rows + "\n ]" if rows else '"rows": []') + "\n"


def save(history: dict, path: Path = HISTORY) -> None:
    """Write `history` to `path` (through a temporary file, so an interrupted write loses nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(dumps(history))
    temporary.replace(path)
