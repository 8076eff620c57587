"""What recording costs: the seed model's `fit`, plain and with the recorder or the live plot (notebook 13)."""

import statistics
import sys
import time
from collections.abc import Sequence

import ipywidgets as widgets
import keras

from utils.backends import check_backend
from utils.bn import BatchNormRecorder
from utils.data import load_mnist_subset
from utils.live import LivePlot
from utils.models import build_functional
from utils.session import seed_everything

RECORDER = "BatchNormRecorder"
LIVE_HEADLESS = "recorder + live plot (headless)"
LIVE_SVG = "recorder + live plot (SVG frames)"
VARIANTS = (RECORDER, LIVE_HEADLESS, LIVE_SVG)


def _callback(variant: str) -> keras.callbacks.Callback:
    """The callback that `variant` names, new."""
    if variant == RECORDER:
        return BatchNormRecorder()
    if variant == LIVE_HEADLESS:
        return LivePlot()
    # Every live frame it is allowed drawn, as in a notebook: into a widget with no front end.
    return LivePlot(image=widgets.Image())


def recorder_overhead(variants: Sequence[str] = VARIANTS, pairs: int = 16, epochs: int = 4,
                      progress: bool = False) -> dict:
    """Time `fit` plain and with each variant's callback, in neighbouring pairs.

    One compiled seed model, the offline MNIST subset, batch size 32. Each ratio
    comes from two neighbouring runs, plain then recorded or the other way round,
    alternately, because a machine's speed drifts; report the median over the pairs.

    Args:
        variants: names from `VARIANTS`.
        pairs: pairs of runs per variant.
        epochs: epochs per run (4 as in notebook 03).
        progress: print a line to stderr after each pair.

    Returns:
        A JSON-ready dict: `backend`, `keras_version`, `steps` per run, `plain_seconds`
        (median), and per variant the `ratios` and `cpu_ratios` (process time, all
        threads) of every pair.
    """
    backend = check_backend("recorder_overhead")
    unknown = [variant for variant in variants if variant not in VARIANTS]
    if unknown:
        raise ValueError(f"Unknown variants {unknown}; choose from {list(VARIANTS)}.")
    if pairs < 1 or epochs < 1:
        raise ValueError(f"pairs and epochs must be at least 1, not {pairs} and {epochs}.")
    seed_everything(0)
    (x, y), _ = load_mnist_subset()
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def fit(callbacks: list) -> tuple[float, float]:
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)
        return time.perf_counter() - start, time.process_time() - start_cpu

    for variant in variants:  # warm up: trace the step, fill the caches
        fit([_callback(variant)])
    plain, ratios, cpu_ratios = [], {v: [] for v in variants}, {v: [] for v in variants}
    for pair in range(pairs):
        for variant in variants:
            if pair % 2:
                recorded, baseline = fit([_callback(variant)]), fit([])
            else:
                baseline, recorded = fit([]), fit([_callback(variant)])
            plain.append(baseline[0])
            ratios[variant].append(recorded[0] / baseline[0])
            cpu_ratios[variant].append(recorded[1] / baseline[1])
        if progress:
            print(f"pair {pair + 1}/{pairs} done", file=sys.stderr)
    return {"backend": backend, "keras_version": keras.__version__,
            "steps": epochs * -(-len(x) // 32), "plain_seconds": statistics.median(plain),
            "ratios": ratios, "cpu_ratios": cpu_ratios}
