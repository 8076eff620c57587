"""`python -m tools.keras_history`: measure the releases again and store their rows in the data file."""

import argparse
import datetime
import sys
import time
from pathlib import Path

from tools.keras_history import store
from tools.keras_history.environments import (
    BACKEND_PACKAGES,
    CACHE,
    InstallFailed,
    RunFailed,
    ensure_base,
    ensure_release,
    run_probes,
)
from tools.keras_history.index import IndexUnreachable
from tools.keras_history.releases import BACKENDS, Index, Release, choose


def measure(index: Index, release: Release, backend: str, cache: Path) -> tuple[dict, list[dict], dict]:
    """Measure `release` on `backend` in the first base where it installs and runs.

    Returns:
        Its entry for the data file (status ok or failed, with every error met on the way), its rows,
        and the base it ran on as `{name: {"requirements": ..., "freeze": ...}}`.
    """
    tried = []
    for base in index.bases(release, backend):
        folder = cache / "envs" / base.name
        if not (folder / "freeze.txt").exists():
            print(f"    building {folder} (once)", flush=True)
        try:
            held = ensure_base(base, cache)
            target = ensure_release(release.package, release.version, cache)
            rows, seconds = run_probes(base, target, legacy=release.package == "tf-keras", cache=cache)
        except (InstallFailed, RunFailed) as error:
            print(f"    failed on {base.name}: {str(error).splitlines()[-1]}", flush=True)
            # The cache is the user's own folder: stored as <cache>, as the install lines are.
            tried.append({"environment": base.name, "error": str(error).replace(str(cache), "<cache>")})
            continue
        reported = {row["keras_version"] for row in rows}
        if reported != {release.version}:
            tried.append({"environment": base.name, "error": f"Keras reported version {reported}"})
            continue
        today = datetime.date.today().isoformat()
        versions = {"backend_version": held[BACKEND_PACKAGES[backend]], "numpy_version": held["numpy"],
                    "measured": today}
        entry = {
            "keras_version": release.version, "backend": backend, "package": release.package,
            "released": release.day, "status": "ok", "environment": base.name,
            "install": f"pip install --no-deps --target <cache>/packages/{release.package}-{release.version} "
                       f"{release.package}=={release.version}",
            **versions, "seconds": round(seconds, 1), "failed_first": tried,
        }
        freeze = sorted(f"{name}=={version}" for name, version in held.items())
        return entry, [{**row, **versions} for row in rows], {
            base.name: {"requirements": base.requirements(), "freeze": freeze}}
    entry = {"keras_version": release.version, "backend": backend, "package": release.package,
             "released": release.day, "status": "failed", "measured": datetime.date.today().isoformat(),
             "errors": tried}
    return entry, [], {}


def main(argv: list[str] | None = None) -> int:
    """Measure each chosen release on each backend and store the rows in data/keras_history.json."""
    parser = argparse.ArgumentParser(prog="python -m tools.keras_history", description=main.__doc__)
    parser.add_argument("--versions", nargs="+", metavar="VERSION",
                        help='e.g. 3.0 (its newest patch), 3.15.1, nightly, tf-keras; default: all')
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"where environments are kept (default {CACHE})")
    args = parser.parse_args(argv)
    index = Index()
    start = time.monotonic()
    try:
        chosen = choose(index.releases(), args.versions)
        runs = [(release, backend) for release in chosen for backend in release.backends if backend in args.backends]
        for number, (release, backend) in enumerate(runs, 1):
            print(f"[{number}/{len(runs)}] {release.package} {release.version} on {backend}", flush=True)
            began = time.monotonic()
            entry, rows, environment = measure(index, release, backend, args.cache)
            store.save(store.merge(store.load(), entry, rows, environment))
            print(f"    {entry['status']} in {time.monotonic() - began:.0f} s", flush=True)
    except (IndexUnreachable, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{len(runs)} runs in {time.monotonic() - start:.0f} s; rows in {store.HISTORY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
