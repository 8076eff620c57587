"""What the package index offers: Keras 3's minors, the nightly, tf-keras, and the release of a date."""

import json
import platform
import urllib.error
import urllib.request

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

INDEX = "https://pypi.org/pypi"
PYTHON = platform.python_version()


class IndexUnreachable(RuntimeError):
    """The package index could not be read; nothing was measured and the stored history is unchanged."""


def fetch_releases(package: str, index: str = INDEX, timeout: float = 30) -> dict[str, list[dict]]:
    """The `releases` table of `package`'s JSON page on the index: version -> its files."""
    url = f"{index}/{package}/json"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)["releases"]
    except (OSError, ValueError, KeyError) as error:  # URLError and timeouts are OSErrors
        raise IndexUnreachable(
            f"Could not read {url} ({type(error).__name__}: {error}). Nothing was measured: the stored "
            "history in data/keras_history.json is still there, unchanged, and utils.load_keras_history() "
            "reads it. Run again when the package index can be reached (check the network or the proxy)."
        ) from error


def _runs_on(file: dict, python: str | None) -> bool:
    """Whether the file's `requires_python` admits `python` (a file that names none does; any when None)."""
    if python is None:
        return True
    try:
        return SpecifierSet(file.get("requires_python") or "").contains(python)
    except InvalidSpecifier:  # some old uploads wrote free text there
        return True


def uploads(releases: dict[str, list[dict]], python: str | None = PYTHON) -> dict[Version, str]:
    """Each release with a file not yanked that runs on `python`, and the day (YYYY-MM-DD) its first file came.

    Args:
        python: a Python version such as "3.11.7"; None keeps releases whatever Python they need.
    """
    days = {}
    for text, files in releases.items():
        kept = [file for file in files if not file.get("yanked") and _runs_on(file, python)]
        try:
            version = Version(text)
        except InvalidVersion:  # a few very old uploads are not PEP 440 versions
            continue
        if kept:
            days[version] = min(file["upload_time"][:10] for file in kept)
    return days


def latest_patches(releases: dict[str, list[dict]], major: int = 3) -> list[tuple[str, str]]:
    """The newest patch of each `major`.x minor, pre-releases skipped, as (version, day), oldest first.

    Whatever Python a release needs: one this Python cannot install is tried, and recorded as failed.
    """
    newest: dict[int, tuple[Version, str]] = {}
    for version, day in uploads(releases, python=None).items():
        if version.major == major and not version.is_prerelease and (
            version.minor not in newest or version > newest[version.minor][0]
        ):
            newest[version.minor] = (version, day)
    return [(str(version), day) for version, day in (newest[minor] for minor in sorted(newest))]


def newest(releases: dict[str, list[dict]], pre: bool = False, on_or_before: str | None = None,
           prefix: str | None = None, python: str | None = PYTHON) -> tuple[str, str]:
    """The newest release as (version, day).

    Args:
        python: only releases with a file for this Python; None for any.
        pre: also consider pre-releases (the nightly has nothing else).
        on_or_before: a day, YYYY-MM-DD: only releases that came out by then.
        prefix: only versions starting with it, e.g. "2.21." for the tf-keras of TensorFlow 2.21.
    """
    candidates = [
        (version, day) for version, day in uploads(releases, python).items()
        if (pre or not version.is_prerelease)
        and (on_or_before is None or day <= on_or_before)
        and (prefix is None or str(version).startswith(prefix))
    ]
    if not candidates:
        raise LookupError(f"The index has no release matching pre={pre}, on_or_before={on_or_before}, "
                          f"prefix={prefix}.")
    version, day = max(candidates)
    return str(version), day
