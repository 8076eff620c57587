"""The stored history of `training` in Keras: load it, find where it changed, name the releases where a value holds.

`python -m tools.keras_history` measures the releases and writes `data/keras_history.json`; this
module only reads it, and loads no Keras.
"""

import json
from pathlib import Path

import pandas as pd
from packaging.version import Version

HISTORY = Path(__file__).resolve().parent.parent / "data" / "keras_history.json"
FIELDS = ("probe_training", "bn_updated", "bn_used_batch_stats", "dropout_active")
_BACKENDS = ("tensorflow", "jax")
_MISSING = object()  # a pair not measured in a release; None is a measured value of probe_training


def load_keras_history(path: Path | str = HISTORY) -> pd.DataFrame:
    """Every stored row, one per release, backend, scenario and call, oldest release first.

    `probe_training` keeps Python's True, False and None.
    """
    frame = pd.DataFrame(json.loads(Path(path).read_text())["rows"])
    order = frame["keras_version"].map(Version)
    return frame.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order").reset_index(
        drop=True)


def load_release_status(path: Path | str = HISTORY) -> pd.DataFrame:
    """Per release and backend: the status (ok or failed), where it ran, and the errors met."""
    return pd.DataFrame(json.loads(Path(path).read_text())["releases"])


def release_label(version: str) -> str:
    """How a release is named to a reader: "Keras 2 (tf-keras 2.21.0)", "3.0.5", "nightly 3.16.0.dev..."."""
    parsed = Version(version)
    if parsed.major == 2:
        return f"Keras 2 (tf-keras {version})"
    return f"nightly {version}" if parsed.is_devrelease else version


def measured_releases(history: pd.DataFrame, backend: str | None = None) -> list[str]:
    """The Keras versions with stored rows (on `backend`, or on any), oldest first."""
    rows = history if backend is None else history[history["backend"] == backend]
    return sorted(set(rows["keras_version"]), key=Version)


def _values(history: pd.DataFrame, backend: str, field: str) -> dict[tuple[str, str, str], object]:
    """(keras_version, scenario, call) -> the field's value, on `backend`."""
    rows = history[history["backend"] == backend]
    return {(row.keras_version, row.scenario, row.call): getattr(row, field) for row in rows.itertuples()}


def history_changes(history: pd.DataFrame, backend: str | None = None) -> pd.DataFrame:
    """Every (scenario, call, field) whose value differs between two consecutive measured releases.

    Consecutive within a backend's measured releases: a change reported between 3.4.1 and 3.5.0 came
    in 3.5.0 or in an unmeasured release between them.

    Returns:
        One row per change: backend, scenario, call, field, before_release, after_release, before, after.
    """
    changes = []
    pairs = list(history[["scenario", "call"]].drop_duplicates().itertuples(index=False))
    for name in [backend] if backend else [b for b in _BACKENDS if b in set(history["backend"])]:
        releases = measured_releases(history, name)
        for field in FIELDS:
            values = _values(history, name, field)
            for scenario, call in pairs:
                for before, after in zip(releases, releases[1:]):
                    old = values.get((before, scenario, call), _MISSING)
                    new = values.get((after, scenario, call), _MISSING)
                    if _MISSING not in (old, new) and old != new:
                        changes.append({"backend": name, "scenario": scenario, "call": call, "field": field,
                                        "before_release": before, "after_release": after,
                                        "before": old, "after": new})
    columns = ["backend", "scenario", "call", "field", "before_release", "after_release", "before", "after"]
    return pd.DataFrame(changes, columns=columns)


def backend_differences(history: pd.DataFrame) -> pd.DataFrame:
    """Every release, scenario, call and field where TensorFlow and JAX measured different values."""
    differences = []
    for field in FIELDS:
        on_tensorflow, on_jax = _values(history, "tensorflow", field), _values(history, "jax", field)
        for key in sorted(on_tensorflow.keys() & on_jax.keys(), key=lambda key: (Version(key[0]), key[1:])):
            if on_tensorflow[key] != on_jax[key]:
                differences.append(dict(zip(("keras_version", "scenario", "call"), key), field=field,
                                        tensorflow=on_tensorflow[key], jax=on_jax[key]))
    return pd.DataFrame(differences, columns=["keras_version", "scenario", "call", "field", "tensorflow", "jax"])


def releases_where(history: pd.DataFrame, scenario: str, call: str, field: str, value,
                   backend: str = "tensorflow") -> list[str]:
    """The measured releases on `backend` where `field` of (`scenario`, `call`) was `value`, oldest first."""
    values = _values(history, backend, field)
    return [release for release in measured_releases(history, backend)
            if (release, scenario, call) in values and values[release, scenario, call] == value]


def version_range(history: pd.DataFrame, scenario: str, call: str, field: str, value,
                  backend: str = "tensorflow") -> str:
    """The releases where `field` of (`scenario`, `call`) was `value`, as a reader reads them.

    Ranges run over the measured releases only ("3.0.5 to 3.15.1": every measured release from
    3.0.5 to 3.15.1, which are the newest patch of each minor); Keras 2 is never joined to Keras 3.

    Returns:
        e.g. "3.0.5 to 3.15.1", "Keras 2 (tf-keras 2.21.0) and nightly 3.16.0.dev2026102704",
        or "none of the measured releases".
    """
    measured = measured_releases(history, backend)
    holds = set(releases_where(history, scenario, call, field, value, backend))
    runs: list[list[str]] = []
    for previous, release in zip([None, *measured], measured):
        if release not in holds:
            continue
        joined = previous in holds and Version(previous).major == Version(release).major
        if joined:
            runs[-1].append(release)
        else:
            runs.append([release])
    if not runs:
        return "none of the measured releases"
    texts = [release_label(run[0]) if len(run) == 1 else f"{release_label(run[0])} to {release_label(run[-1])}"
             for run in runs]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]
