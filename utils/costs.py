"""What the benchmark scripts in `benchmarks/` stored, for the notebooks that show it."""

import json
from pathlib import Path

# Where the benchmark scripts in benchmarks/ store their results (--save), one file each.
RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def benchmark_results(name: str) -> dict[str, dict]:
    """What the benchmark script `benchmarks/<name>.py` last stored with --save, by backend."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"No stored benchmark at {path}: run `python benchmarks/{name}.py --save` once with "
            "KERAS_BACKEND=tensorflow and once with KERAS_BACKEND=jax.")
    return json.loads(path.read_text())
