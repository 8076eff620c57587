"""`python -m utils.probes [--legacy | --backend jax]`: print the behaviour matrix as JSON."""

import argparse
import json
import sys

from utils.backends import BACKENDS
from utils.probes.measure import CALLS, behaviour_matrix
from utils.probes.scenarios import SCENARIOS
from utils.probes.subprocesses import backend_behaviour_matrix, legacy_behaviour_matrix


def main(argv: list[str] | None = None) -> int:
    """Print the behaviour matrix as a JSON list."""
    parser = argparse.ArgumentParser(prog="python -m utils.probes", description=main.__doc__)
    parser.add_argument("--legacy", action="store_true", help="measure tf-keras (Keras 2)")
    parser.add_argument("--backend", choices=BACKENDS, help="measure Keras 3 on this backend, in a fresh process")
    parser.add_argument("--scenario", nargs="+", choices=list(SCENARIOS), help="default: all")
    parser.add_argument("--call", nargs="+", choices=CALLS, help="default: all")
    args = parser.parse_args(argv)
    try:
        if args.legacy:
            rows = legacy_behaviour_matrix(args.scenario, args.call)
        elif args.backend:
            rows = backend_behaviour_matrix(args.backend, args.scenario, args.call)
        else:
            rows = behaviour_matrix(args.scenario, args.call)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
