"""`python -m tools.keras_history` and `utils.history`: which releases, how rows are stored, how they are read.

No test here reaches the network; the last one measures the installed Keras and checks the stored rows.
"""

import json
import urllib.error

import keras
import pandas as pd
import pytest

from tools.keras_history import index, store
from tools.keras_history.__main__ import main
from tools.keras_history.releases import Index, Release, choose
from utils import behaviour_matrix
from utils.history import (
    HISTORY,
    backend_differences,
    history_changes,
    load_keras_history,
    version_range,
)

EFFECTS = ("probe_training", "bn_updated", "bn_used_batch_stats", "dropout_active")


def _file(day: str, yanked: bool = False, requires_python: str | None = None) -> dict:
    return {"upload_time": f"{day}T12:00:00", "yanked": yanked, "requires_python": requires_python}


def _releases(**days) -> dict:
    """A fake `releases` table of the index's JSON: version (with _ for .) -> one file of that day."""
    return {version.lstrip("v").replace("_", "."): [_file(day)] for version, day in days.items()}


def test_the_newest_patch_of_each_keras_3_minor_is_chosen_oldest_minor_first():
    releases = _releases(v3_0_0="2023-11-28", v3_0_5="2024-02-14", v3_1_0="2024-03-18", v3_1_1="2024-03-19",
                         v3_10_0="2025-05-19")
    assert index.latest_patches(releases) == [("3.0.5", "2024-02-14"), ("3.1.1", "2024-03-19"),
                                              ("3.10.0", "2025-05-19")]


def test_pre_releases_are_not_a_minors_newest_patch():
    releases = _releases(v3_2_0="2024-04-08", v3_2_1rc1="2024-04-09", v3_3_0_dev2024="2024-04-10")
    assert index.latest_patches(releases) == [("3.2.0", "2024-04-08")]


def test_a_patch_whose_files_are_all_yanked_gives_way_to_the_patch_before():
    releases = {"3.4.0": [_file("2024-06-25")], "3.4.1": [_file("2024-06-26", yanked=True)]}
    assert index.latest_patches(releases) == [("3.4.0", "2024-06-25")]


def test_a_patch_keeps_its_place_while_one_of_its_files_is_not_yanked():
    releases = {"3.4.0": [_file("2024-06-25")], "3.4.1": [_file("2024-06-26", yanked=True), _file("2024-06-27")]}
    assert index.latest_patches(releases) == [("3.4.1", "2024-06-27")]


def test_keras_2_releases_and_releases_without_files_are_not_keras_3_minors():
    releases = {**_releases(v2_15_0="2023-11-07", v3_0_0="2023-11-28"), "3.1.0": []}
    assert index.latest_patches(releases) == [("3.0.0", "2023-11-28")]


def test_the_release_of_a_day_is_the_newest_out_by_then():
    releases = _releases(v0_4_23="2023-12-14", v0_4_24="2024-02-06", v0_4_25="2024-02-24")
    assert index.newest(releases, on_or_before="2024-02-14") == ("0.4.24", "2024-02-06")


def test_a_release_this_python_cannot_install_is_not_the_newest():
    releases = {"0.10.2": [_file("2026-06-17", requires_python=">=3.11")],
                "0.11.0": [_file("2026-07-16", requires_python=">=3.12")]}
    assert index.newest(releases, python="3.11.7") == ("0.10.2", "2026-06-17")


def test_the_nightly_is_the_newest_pre_release():
    releases = _releases(v3_16_0_dev2026102604="2026-10-26", v3_16_0_dev2026102704="2026-10-27")
    assert index.newest(releases, pre=True) == ("3.16.0.dev2026102704", "2026-10-27")


def _fake_index() -> Index:
    pages = {
        "tensorflow": _releases(v2_20_0="2025-08-13", v2_21_0="2026-03-06"),
        "tf-keras": _releases(v2_20_1="2025-09-04", v2_21_0="2026-03-18", v2_22_0rc0="2026-11-01"),
        "keras": _releases(v3_0_5="2024-02-14", v3_15_1="2026-07-29"),
        "keras-nightly": _releases(v3_16_0_dev2026102704="2026-10-27"),
        "jax": _releases(v0_4_24="2024-02-06", v0_10_2="2026-06-17"),
        "numpy": _releases(v1_26_4="2024-02-05", v2_4_6="2026-05-18"),
        "pandas": _releases(v2_2_0="2024-01-20", v3_1_1="2026-11-04"),
    }
    return Index(fetch=pages.__getitem__)


def test_the_sweep_measures_tf_keras_for_todays_tensorflow_then_each_minor_then_the_nightly():
    assert [release.label for release in _fake_index().releases()] == ["tf-keras", "3.0.5", "3.15.1", "nightly"]
    assert _fake_index().releases()[0].version == "2.21.0"


def test_a_release_is_tried_on_todays_backend_first_then_on_the_backend_numpy_and_pandas_of_its_day():
    bases = _fake_index().bases(Release("keras", "3.0.5", "2024-02-14"), "jax")
    assert [base.name for base in bases] == ["jax-0.10.2", "jax-0.4.24-numpy-1.26.4-pandas-2.2.0"]
    assert bases[1].requirements()[:3] == ["jax[cpu]==0.4.24", "numpy==1.26.4", "pandas==2.2.0"]


def test_versions_names_a_minor_by_its_newest_patch_and_the_nightly_and_tf_keras_by_name():
    releases = _fake_index().releases()
    assert [release.label for release in choose(releases, ["nightly", "3.0", "tf-keras"])] == [
        "tf-keras", "3.0.5", "nightly"]


def test_an_unknown_version_is_refused_with_the_ones_there_are():
    with pytest.raises(ValueError, match="'3.0.5', '3.15.1'"):
        choose(_fake_index().releases(), ["3.99"])


def _rows(version: str, backend: str, training: bool | None = True) -> list[dict]:
    return [{"keras_version": version, "backend": backend, "scenario": scenario, "call": "fit",
             "probe_training": training, "bn_updated": True, "bn_used_batch_stats": True, "dropout_active": True}
            for scenario in ("sequential", "functional")]


def _entry(version: str, backend: str, status: str = "ok") -> dict:
    return {"keras_version": version, "backend": backend, "status": status}


def _stored(*releases: tuple[str, str]) -> dict:
    history = store.empty()
    for version, backend in releases:
        history = store.merge(history, _entry(version, backend), _rows(version, backend))
    return history


def test_storing_a_release_again_replaces_its_old_rows_and_entry():
    history = store.merge(_stored(("3.0.5", "jax")), _entry("3.0.5", "jax"), _rows("3.0.5", "jax", False))
    assert [row["probe_training"] for row in history["rows"]] == [False, False]
    assert len(history["releases"]) == 1


def test_storing_a_release_keeps_every_other_releases_rows():
    history = store.merge(_stored(("3.0.5", "jax"), ("3.0.5", "tensorflow")), _entry("3.0.5", "jax"),
                          _rows("3.0.5", "jax", False))
    assert [row["probe_training"] for row in history["rows"] if row["backend"] == "tensorflow"] == [True, True]


def test_rows_are_ordered_by_keras_version_then_tensorflow_before_jax_whatever_order_they_came_in():
    one = _stored(("3.10.0", "jax"), ("3.16.0.dev2026102704", "tensorflow"), ("2.21.0", "tensorflow"),
                  ("3.10.0", "tensorflow"), ("3.9.2", "jax"))
    other = _stored(("3.9.2", "jax"), ("3.10.0", "tensorflow"), ("2.21.0", "tensorflow"), ("3.10.0", "jax"),
                    ("3.16.0.dev2026102704", "tensorflow"))
    assert store.dumps(one) == store.dumps(other)
    assert [(row["keras_version"], row["backend"]) for row in one["rows"]][::2] == [
        ("2.21.0", "tensorflow"), ("3.9.2", "jax"), ("3.10.0", "tensorflow"), ("3.10.0", "jax"),
        ("3.16.0.dev2026102704", "tensorflow")]


def test_a_release_that_failed_is_stored_with_its_error_and_its_old_rows_are_dropped():
    failed = {**_entry("3.0.5", "jax", "failed"), "errors": [{"environment": "jax-0.10.2", "error": "no spmd_mode"}]}
    history = store.merge(_stored(("3.0.5", "jax")), failed, [])
    assert history["rows"] == [] and history["releases"] == [failed]


def test_the_stored_text_reads_back_as_the_same_history():
    history = _stored(("3.0.5", "jax"), ("2.21.0", "tensorflow"))
    assert json.loads(store.dumps(history)) == history


def test_an_unreachable_index_says_the_stored_history_is_still_there(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(index.urllib.request, "urlopen", offline)
    with pytest.raises(index.IndexUnreachable, match="stored history in data/keras_history.json is still there"):
        index.fetch_releases("keras")


def test_the_command_exits_with_that_message_and_leaves_the_data_file_alone(monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    before = HISTORY.read_bytes()
    monkeypatch.setattr(index.urllib.request, "urlopen", offline)
    assert main(["--versions", "3.0"]) == 2
    assert "is still there" in capsys.readouterr().err
    assert HISTORY.read_bytes() == before


def _history_frame(values: dict[str, bool | None], backend: str = "tensorflow"):
    return pd.DataFrame([row for version, training in values.items() for row in _rows(version, backend, training)])


def test_a_change_is_reported_between_the_two_measured_releases_around_it():
    history = _history_frame({"3.0.5": True, "3.1.1": True, "3.16.0.dev2026102704": False})
    changes = history_changes(history)
    assert set(changes["before_release"]) == {"3.1.1"} and set(changes["after_release"]) == {"3.16.0.dev2026102704"}
    assert list(changes["field"].unique()) == ["probe_training"] and len(changes) == 2


def test_a_version_range_runs_over_the_measured_releases_only():
    history = _history_frame({"3.0.5": True, "3.1.1": True, "3.15.1": True, "3.16.0.dev2026102704": False})
    assert version_range(history, "functional", "fit", "probe_training", True) == "3.0.5 to 3.15.1"


def test_a_version_range_names_keras_2_apart_and_joins_the_pieces_with_and():
    history = _history_frame({"2.21.0": False, "3.0.5": True, "3.15.1": True, "3.16.0.dev2026102704": False})
    assert version_range(history, "functional", "fit", "probe_training", False) == (
        "Keras 2 (tf-keras 2.21.0) and nightly 3.16.0.dev2026102704")


def test_a_value_no_release_had_is_said_so():
    history = _history_frame({"3.0.5": True})
    assert version_range(history, "functional", "fit", "probe_training", None) == "none of the measured releases"


def test_backend_differences_lists_where_tensorflow_and_jax_measured_differently():
    history = pd.concat([_history_frame({"3.0.5": True}), _history_frame({"3.0.5": None}, "jax")])
    assert list(backend_differences(history)[["scenario", "tensorflow", "jax"]].itertuples(index=False, name=None)) \
        == [("functional", True, None), ("sequential", True, None)]


def test_the_stored_history_holds_what_the_installed_keras_measures():
    backend = keras.backend.backend()
    stored = load_keras_history()
    stored = stored[(stored["keras_version"] == keras.__version__) & (stored["backend"] == backend)]
    assert len(stored), (f"data/keras_history.json has no rows for Keras {keras.__version__} on {backend}: run "
                         f"python -m tools.keras_history --versions {keras.__version__} --backends {backend}")
    measured = {(row["scenario"], row["call"]): [row[field] for field in EFFECTS] for row in behaviour_matrix()}
    kept = {(row.scenario, row.call): [getattr(row, field) for field in EFFECTS] for row in stored.itertuples()}
    assert kept == measured
