"""`python -m utils.replicas --workers N [--legacy] [--synchronized] | --jax`: print a JSON report.

What one training step leaves in BatchNormalization's moving statistics when each worker
process (or each JAX device) sees different digits: see `worker_report` and `data_parallel_report`.
"""

import argparse
import json
import os
import sys

import numpy as np

from utils.replicas.workers import data_parallel_report, run_data_parallel, run_worker, worker_report


def main(argv: list[str] | None = None) -> int:
    """The command line: run the measurement, print its report as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.replicas",
        description="What one training step leaves in BatchNormalization's moving statistics when "
                    "each worker process (or JAX device) sees different digits.")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (or JAX devices); default 2")
    parser.add_argument("--legacy", action="store_true", help="use tf-keras (Keras 2) instead of Keras 3")
    parser.add_argument("--synchronized", action="store_true", help="BatchNormalization(synchronized=True)")
    parser.add_argument("--jax", action="store_true",
                        help="one JAX process with --workers host devices and keras.distribution.DataParallel")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before giving up; default 120")
    parser.add_argument("--port", type=int, help="first of the consecutive ports to use; free ones by default")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--jax-device-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--features", type=json.loads, help=argparse.SUPPRESS)
    parser.add_argument("--modes", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None or args.jax_device_run:
        features = np.asarray(args.features, "float32")
        result = (run_data_parallel(args.workers, features) if args.jax_device_run
                  else run_worker(args.worker, args.workers, features, args.legacy, args.modes))
        print(json.dumps(result), flush=True)
        # Skip interpreter shutdown: TensorFlow's collective runtime can keep it waiting.
        os._exit(0)
    try:
        if args.jax:
            report = data_parallel_report(args.workers, args.timeout)
        else:
            report = worker_report(args.workers, args.legacy, args.synchronized, args.timeout, args.port)
    except (RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: every worker was stopped.", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=1))
    # A Keras that cannot train this way is a result (the report says why); a run that did
    # not report at all (timeout, crash) is a failure.
    return 0 if report["keras_version"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
