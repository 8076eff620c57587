"""Time each notebook, run top to bottom in a fresh kernel, and report its peak memory.

    python benchmarks/notebooks.py [notebooks/01_training_flag.ipynb ...]

Nothing is written back: the stored notebooks stay as they are.
"""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in its own process, so that the peak memory it reports is this notebook's kernel alone.
_RUN_ONE = """
import resource, sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
NotebookClient(notebook, timeout=600, resources={"metadata": {"path": sys.argv[2]}}).execute()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run(path: Path) -> tuple[float, float]:
    """Execute one notebook; return (seconds, peak kernel memory in MiB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RUN_ONE, str(path), str(path.parent)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        # nbclient's error names the cell and the exception in its last lines.
        raise RuntimeError(f"{path.name} failed:\n" + "\n".join(done.stderr.splitlines()[-12:]))
    seconds = time.perf_counter() - start
    return seconds, int(done.stdout.split()[-1]) / 1024


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = 0.0
    print(f"{'notebook':32s} {'seconds':>8s} {'peak MiB':>9s}")
    failed = []
    for path in notebooks:
        try:
            seconds, peak = run(path)
        except RuntimeError as error:
            failed.append(path.name)
            print(error, file=sys.stderr)
            continue
        total += seconds
        print(f"{path.name:32s} {seconds:8.1f} {peak:9.0f}", flush=True)
    print(f"{'all':32s} {total:8.1f}" + (f" (failed, not counted: {', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
