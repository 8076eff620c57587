"""Where each release is measured: a virtualenv with one backend, and the Keras release beside it.

A base virtualenv holds a backend (TensorFlow or JAX), NumPy and what the probes import; it is
shared by every release that runs on it. Each Keras release is unpacked alone into a folder
(`pip install --no-deps --target`) that goes first on `PYTHONPATH`, so a base serves them all.
Both are built once in the cache and reused on the next run.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "training-lab" / "keras-history"

# What `python -m utils.probes` imports besides Keras: pandas (tables), mlxtend (utils.data), packaging.
PROBE_NEEDS = ("pandas", "mlxtend", "packaging")
# Every Keras 3 release's own dependencies, so that a release unpacked without them runs on any base;
# 3.0 to 3.3 used dm-tree where later releases use optree.
KERAS_NEEDS = ("absl-py", "rich", "namex", "h5py", "optree", "dm-tree", "ml-dtypes")
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax"}
# The install names differ from the package names: JAX's CPU build comes as an extra.
_REQUIREMENT_NAMES = {"jax": "jax[cpu]"}


class InstallFailed(RuntimeError):
    """pip could not build a base or unpack a release."""


class RunFailed(RuntimeError):
    """`python -m utils.probes` failed in the environment."""


@dataclasses.dataclass(frozen=True)
class Base:
    """A base virtualenv: the backend package and pinned versions, the backend's first.

    Packages left unpinned get the newest release pip finds compatible.
    """

    backend: str
    pins: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return "-".join(f"{package}-{version}" for package, version in self.pins)

    def requirements(self) -> list[str]:
        pinned = {package for package, _ in self.pins}
        return [f"{_REQUIREMENT_NAMES.get(package, package)}=={version}" for package, version in self.pins] + [
            package for package in PROBE_NEEDS + KERAS_NEEDS if package not in pinned]


def _pip(python: Path | str, *arguments: str) -> None:
    """Run pip quietly; raise `InstallFailed` with the end of its error output."""
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments],
                          capture_output=True, text=True)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location")]
        raise InstallFailed("pip " + " ".join(arguments) + ":\n" + "\n".join(errors)[-1500:])


def ensure_base(base: Base, cache: Path = CACHE) -> dict[str, str]:
    """Build `base` in the cache unless it is there already; return what it holds (package -> version)."""
    folder = cache / "envs" / base.name
    freeze = folder / "freeze.txt"
    if not freeze.exists():
        shutil.rmtree(folder, ignore_errors=True)  # a build that was interrupted
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        try:
            _pip(folder / "bin" / "python", "install", *base.requirements())
        except InstallFailed:
            shutil.rmtree(folder)
            raise
        listed = subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True,
                                text=True, check=True).stdout
        freeze.write_text(listed)
    lines = [line.split("==") for line in freeze.read_text().splitlines() if "==" in line]
    return {name.lower().replace("_", "-"): version for name, version in lines}


def ensure_release(package: str, version: str, cache: Path = CACHE) -> Path:
    """Unpack `package==version` (keras, keras-nightly or tf-keras) alone into a cache folder; return it."""
    folder = cache / "packages" / f"{package}-{version}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        _pip(sys.executable, "install", "--no-deps", "--pre", "--target", str(folder), f"{package}=={version}")
        (folder / ".complete").touch()
    return folder


def run_probes(base: Base, release: Path, legacy: bool = False, cache: Path = CACHE) -> tuple[list[dict], float]:
    """Run `python -m utils.probes` with `release` first on the path; return its rows and the seconds taken.

    Args:
        legacy: measure tf-keras, through `python -m utils.probes --legacy`.
    """
    python = cache / "envs" / base.name / "bin" / "python"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(release), str(ROOT)]),
                   "KERAS_BACKEND": base.backend}
    start = time.monotonic()
    done = subprocess.run([str(python), "-m", "utils.probes", *(["--legacy"] if legacy else [])], cwd=ROOT,
                          env=environment, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RunFailed("\n".join(lines[-12:]))
    return json.loads(done.stdout), seconds
