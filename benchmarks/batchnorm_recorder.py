"""What recording BatchNormalization costs: the seed model's `fit`, plain and recorded.

    python benchmarks/batchnorm_recorder.py [--repeats 16] [--epochs 4] [--save]

With --save the result goes to benchmarks/results/ under the backend's name, which
notebook 13 shows; run it once with KERAS_BACKEND=tensorflow and once with jax.

The measurement is `utils.recorder_overhead`: one compiled model, the offline MNIST
subset, batch size 32, four epochs as in notebook 03, neighbouring pairs of plain and
recorded runs. The median over the pairs is reported, for the wall-clock time (the target) and for the CPU time of the
process (all its threads), which the machine's pauses disturb less.
Target: recorder plus live plot at most 1.05 times plain `fit` on TensorFlow and
1.10 times on JAX (`KERAS_BACKEND=jax`), wall-clock, also when the live plot draws
every frame it is allowed (the SVG variant).
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import save_benchmark  # noqa: E402

from utils import recorder_overhead  # noqa: E402

TARGETS = {"tensorflow": 1.05, "jax": 1.10}


def main(repeats: int, epochs: int, keep: bool) -> int:
    result = recorder_overhead(pairs=repeats, epochs=epochs, progress=True)
    backend, target = result["backend"], TARGETS[result["backend"]]
    print(f"seed model, batch 32, {epochs} epochs ({result['steps']} steps), {repeats} pairs "
          f"per variant, Keras {result['keras_version']} on {backend}")
    print(f"{'plain fit':34s} {result['plain_seconds']:6.2f} s")
    ok = True
    for name, values in result["ratios"].items():
        ratio = statistics.median(values)
        ok &= ratio <= target
        print(f"{name:34s} wall ratio {ratio:.3f} (pairs {min(values):.3f} to "
              f"{max(values):.3f}), CPU ratio {statistics.median(result['cpu_ratios'][name]):.3f}")
    print(f"target on {backend}: ratio <= {target}: {'met' if ok else 'NOT met'}")
    if keep:
        print(f"saved to {save_benchmark('batchnorm_recorder', result, target)}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--save", action="store_true", help="store the result for notebook 13")
    args = parser.parse_args()
    sys.exit(main(args.repeats, args.epochs, args.save))
