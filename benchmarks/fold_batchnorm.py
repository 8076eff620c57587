"""What folding BatchNormalization saves at prediction time: predict latency before and after.

    python benchmarks/fold_batchnorm.py [--repeats 200] [--rounds 5] [--save]

Two models, the seed model and notebook 05's convolutional base, each as built and
after `utils.fold_batchnorm`. For each: one image at a time (`predict_on_batch`, the
median over `repeats` calls, after a warm-up) and the 1,000 test digits in batches of
256 (`predict`, the median over `repeats // 20` calls). Each median is taken `rounds`
times, the two variants alternating which goes first, so that neither always runs on
a warmer (or busier) machine; all of them are stored. With --save the result goes to
benchmarks/results/ under the backend's name, which notebook 10 shows; run it
once with KERAS_BACKEND=tensorflow and once with jax.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
from storage import save_benchmark  # noqa: E402

from utils import build_base, build_functional, fold_batchnorm, load_mnist_subset, recalibrate_batchnorm  # noqa: E402


def median_seconds(call, repeats: int) -> float:
    call()  # warm up: trace and compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeats: int, rounds: int, keep: bool) -> None:
    keras.utils.set_random_seed(0)
    (x, _), (x_test, _) = load_mnist_subset()
    x_test = x_test[:1000]
    batch_repeats = max(repeats // 20, 3)
    result = {"keras_version": keras.__version__, "repeats": repeats, "batch_repeats": batch_repeats,
              "rounds": rounds, "models": {}}
    for name, model in {"seed model": build_functional(), "05's base": build_base()}.items():
        recalibrate_batchnorm(model, x[:1000])
        variants = {"as built": model, "folded": fold_batchnorm(model)}
        timings = result["models"][name] = {variant: {"one image ms": [], "1,000 images ms": []}
                                            for variant in variants}
        for round_ in range(rounds):
            # Alternate which variant goes first, so that order is not what the ratio measures.
            for variant in (list(variants) if round_ % 2 == 0 else list(variants)[::-1]):
                candidate = variants[variant]
                one = median_seconds(lambda m=candidate: m.predict_on_batch(x_test[:1]), repeats)
                many = median_seconds(lambda m=candidate: m.predict(x_test, batch_size=256, verbose=0), batch_repeats)
                timings[variant]["one image ms"].append(1000 * one)
                timings[variant]["1,000 images ms"].append(1000 * many)
                print(f"{name:10s} round {round_} {variant:8s} one image {1000 * one:7.3f} ms   1,000 images "
                      f"{1000 * many:8.1f} ms", flush=True)
    print(f"Keras {keras.__version__} on {keras.backend.backend()}")
    if keep:
        print(f"saved to {save_benchmark('fold_batchnorm', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="how many medians to take of each")
    parser.add_argument("--save", action="store_true", help="store the result for notebook 10")
    args = parser.parse_args()
    main(args.repeats, args.rounds, args.save)
