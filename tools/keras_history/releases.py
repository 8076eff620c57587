"""The releases the history measures: tf-keras, the newest patch of each Keras 3 minor, and the nightly."""

import dataclasses

from tools.keras_history.environments import BACKEND_PACKAGES, Base
from tools.keras_history.index import fetch_releases, latest_patches, newest

BACKENDS = tuple(BACKEND_PACKAGES)


@dataclasses.dataclass(frozen=True)
class Release:
    """One release to measure: `package` is keras, keras-nightly or tf-keras; `day` the day it came out."""

    package: str
    version: str
    day: str

    @property
    def label(self) -> str:
        """How `--versions` names it: "tf-keras", "nightly", or the version."""
        return {"tf-keras": "tf-keras", "keras-nightly": "nightly"}.get(self.package, self.version)

    @property
    def backends(self) -> tuple[str, ...]:
        return ("tensorflow",) if self.package == "tf-keras" else BACKENDS


class Index:
    """The package index, each package's page read once."""

    def __init__(self, fetch=fetch_releases):
        self._fetch = fetch
        self._pages: dict[str, dict] = {}

    def releases_of(self, package: str) -> dict:
        if package not in self._pages:
            self._pages[package] = self._fetch(package)
        return self._pages[package]

    def releases(self) -> list[Release]:
        """tf-keras for the newest TensorFlow, every Keras 3 minor's newest patch, the newest nightly."""
        tensorflow, _ = newest(self.releases_of("tensorflow"))
        minor = ".".join(tensorflow.split(".")[:2]) + "."
        legacy = Release("tf-keras", *newest(self.releases_of("tf-keras"), prefix=minor))
        minors = [Release("keras", version, day) for version, day in latest_patches(self.releases_of("keras"))]
        nightly = Release("keras-nightly", *newest(self.releases_of("keras-nightly"), pre=True, python=None))
        return [legacy, *minors, nightly]

    def bases(self, release: Release, backend: str) -> list[Base]:
        """Where to try `release` on `backend`, in order: today's backend, then one of the release's own time.

        The second pins the backend, NumPy and pandas to their newest releases on the day the
        release came out. tf-keras and the nightly go with today's TensorFlow only.
        """
        package = BACKEND_PACKAGES[backend]
        today = Base(backend, ((package, newest(self.releases_of(package))[0]),))
        if release.package != "keras":
            return [today]
        pins = tuple((name, newest(self.releases_of(name), on_or_before=release.day)[0])
                     for name in (package, "numpy", "pandas"))
        return [today, Base(backend, pins)]


def choose(releases: list[Release], wanted: list[str] | None) -> list[Release]:
    """The releases `wanted` names, each as a label ("3.0.5", "nightly", "tf-keras") or a minor ("3.0").

    Raises:
        ValueError: for a name that matches none, listing the ones there are.
    """
    if not wanted:
        return releases
    chosen = []
    for name in wanted:
        matches = [release for release in releases
                   if name == release.label or release.package == "keras" and release.version.startswith(name + ".")]
        if not matches:
            raise ValueError(f"No release {name!r} to measure; choose from {[r.label for r in releases]}.")
        chosen += [release for release in matches if release not in chosen]
    return [release for release in releases if release in chosen]
