"""Where the benchmark scripts store what they measured: `results/<name>.json`, one entry per backend."""

import datetime
import json
import os
from pathlib import Path

import keras

RESULTS = Path(__file__).resolve().parent / "results"


def save_benchmark(name: str, result: dict, target: float | None = None) -> Path:
    """Store a benchmark's `result` under its backend, with the date and the machine's core count."""
    path = RESULTS / f"{name}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[keras.backend.backend()] = {**result, "date": datetime.date.today().isoformat(),
                                        "cores": os.cpu_count(), "target": target}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path
