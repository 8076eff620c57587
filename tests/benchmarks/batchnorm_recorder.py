"""What recording BatchNormalization costs: the seed model's `fit`, plain and recorded.

    python tests/benchmarks/batchnorm_recorder.py [--repeats 16] [--epochs 4]

One compiled model, the offline MNIST subset, batch size 32, four epochs as in
notebook 02. Each ratio comes from two neighbouring runs (plain, then recorded, or
the other way round, alternately), because this machine's speed drifts; the median
over the pairs is reported, for the wall-clock time (the target) and for the CPU
time of the process (all its threads), which the machine's pauses disturb less.
Target: recorder plus live plot at most 1.05 times plain `fit` on TensorFlow and
1.10 times on JAX (`KERAS_BACKEND=jax`), wall-clock, also when the live plot draws
every frame it is allowed (the SVG variant).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import ipywidgets as widgets  # noqa: E402
import keras  # noqa: E402

from utils import BatchNormRecorder, build_functional, load_mnist_subset, seed_everything  # noqa: E402
from utils.live import LivePlot  # noqa: E402

TARGETS = {"tensorflow": 1.05, "jax": 1.10}


def main(repeats: int, epochs: int) -> int:
    seed_everything(0)
    (x, y), _ = load_mnist_subset()
    model = build_functional()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    variants = {
        "BatchNormRecorder": BatchNormRecorder,
        "recorder + live plot (headless)": LivePlot,
        # Every live frame drawn, as in a notebook: into a widget with no front end to send to.
        "recorder + live plot (SVG frames)": lambda: LivePlot(image=widgets.Image()),
    }

    def fit(callbacks: list) -> tuple[float, float]:
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)
        return time.perf_counter() - start, time.process_time() - start_cpu

    for make in variants.values():  # warm up: trace the step, fill the caches
        fit([make()])
    plain = []
    ratios = {name: [] for name in variants}
    cpu_ratios = {name: [] for name in variants}
    for repeat in range(repeats):
        for name, make in variants.items():
            if repeat % 2:
                recorded, baseline = fit([make()]), fit([])
            else:
                baseline, recorded = fit([]), fit([make()])
            plain.append(baseline[0])
            ratios[name].append(recorded[0] / baseline[0])
            cpu_ratios[name].append(recorded[1] / baseline[1])
        print(f"pair {repeat + 1}/{repeats} done", file=sys.stderr)
    steps = epochs * -(-len(x) // 32)
    backend = keras.backend.backend()
    target = TARGETS[backend]
    print(f"seed model, {len(x)} images, batch 32, {epochs} epochs ({steps} steps), "
          f"{repeats} pairs per variant, Keras {keras.__version__} on {backend}")
    print(f"{'plain fit':34s} {statistics.median(plain):6.2f} s")
    ok = True
    for name, values in ratios.items():
        ratio = statistics.median(values)
        ok &= ratio <= target
        print(f"{name:34s} wall ratio {ratio:.3f} (pairs {min(values):.3f} to "
              f"{max(values):.3f}), CPU ratio {statistics.median(cpu_ratios[name]):.3f}")
    print(f"target on {backend}: ratio <= {target}: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    sys.exit(main(args.repeats, args.epochs))
