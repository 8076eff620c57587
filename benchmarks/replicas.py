"""How long the measurements of notebook 12 take, each from a cold start of its processes.

    python benchmarks/replicas.py [--repeats 3]

For each measurement, the median wall time over `repeats` runs, one after the other on an
otherwise quiet machine: `mirrored_report` (one fresh process, two replicas),
`replica_training_report` (the seed model trained four ways over three seeds, as notebook
12's section 2 runs it in the background), the worker
processes of `python -m utils.replicas` with Keras 3 and with tf-keras (both modes from one
start, as the notebook runs them), `data_parallel_report` (JAX, two devices), and the
command itself end to end, as a person runs it in a terminal.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils import data_parallel_report, run_on, worker_reports  # noqa: E402

MEASUREMENTS = {
    "MirroredStrategy, 2 replicas (mirrored_report, fresh process)":
        lambda: run_on("tensorflow", "mirrored_report", replicas=2, synchronized=True),
    "Seed model four ways, 3 seeds (replica_training_report, fresh process)":
        lambda: run_on("tensorflow", "replica_training_report", seeds=[0, 1, 2]),
    "2 Keras 3 workers, both modes (worker_reports)": lambda: worker_reports(workers=2),
    "2 tf-keras workers, both modes (worker_reports)": lambda: worker_reports(workers=2, legacy=True),
    "JAX DataParallel, 2 devices (data_parallel_report)": lambda: data_parallel_report(devices=2),
    "python -m utils.replicas --workers 2 --legacy": lambda: subprocess.run(
        [sys.executable, "-m", "utils.replicas", "--workers", "2", "--legacy"], cwd=ROOT, check=True,
        capture_output=True),
}


def main(repeats: int) -> None:
    for name, measure in MEASUREMENTS.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            measure()
            times.append(time.perf_counter() - start)
        print(f"{name}: median {statistics.median(times):.1f} s "
              f"(runs: {', '.join(f'{t:.1f}' for t in times)})", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
