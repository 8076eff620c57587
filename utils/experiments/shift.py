"""Experiments of the data-shift lesson: the damage a corruption does, and three repairs, over seeds."""

from collections.abc import Callable, Iterable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd

from utils.data import load_mnist_subset
from utils.models import build_functional
from utils.repair import copy_model, recalibrate_batchnorm
from utils.shift import CORRUPTIONS, SEVERITIES, SplitBatchNormalization, corrupt, with_batch_statistics

CLEAN = "clean"
NO_REPAIR = "no repair (training statistics)"
RECALIBRATED_ON_TARGET = "recalibrated on the target"
TRAINING_BATCHES = "training digits, their batches' statistics"
TEST_BATCHES = "test digits, their batches' statistics"
TEST_POPULATION = "test digits, population statistics"


def batch_statistics_method(batch_size: int) -> str:
    """The name of the repair that normalises with the statistics of test batches of `batch_size`."""
    return f"batch statistics, batches of {batch_size}"


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """The share of `x` that `model` classifies right, called in inference mode `batch_size` at a time."""
    predicted = [np.argmax(keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False)), axis=-1)
                 for i in range(0, len(x), batch_size)]
    return float(np.mean(np.concatenate(predicted) == y))


def _restart(model: keras.Model, start: keras.Model, learning_rate: float) -> None:
    """Put `start`'s weights and random state into the compiled `model`, and its optimizer back at its start.

    Restarting zeroes every optimizer variable, the learning rate too, so it is assigned after.
    """
    for variable, value in zip(model.variables, start.variables):
        # A copy: on JAX, fit donates the buffers it trains, and a shared one would go with them.
        variable.assign(keras.ops.convert_to_numpy(value))
    for variable in model.optimizer.variables:
        variable.assign(np.zeros(variable.shape, variable.dtype))
    model.optimizer.learning_rate.assign(learning_rate)


def shift_models(train: tuple, seeds: Iterable[int], epochs: int = 2) -> dict[int, keras.Model]:
    """Per seed, the seed model trained on clean digits, its moving statistics then set to the clean
    training digits' exact statistics (notebook 09's recalibration), so that no lag is left in them.

    One compiled model trains every seed from that seed's initial weights, so the step is traced once.
    """
    trainer = build_functional()
    trainer.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    learning_rate = float(keras.ops.convert_to_numpy(trainer.optimizer.learning_rate))
    models = {}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        _restart(trainer, build_functional(), learning_rate)
        trainer.fit(*train, batch_size=32, epochs=epochs, verbose=0)
        models[seed] = copy_model(trainer)
        recalibrate_batchnorm(models[seed], train[0])
    return models


def damage(models: Mapping[int, keras.Model], test: tuple, kinds: Iterable[str] = CORRUPTIONS,
           severities: Iterable[int] = SEVERITIES) -> pd.DataFrame:
    """Each model's accuracy on the test digits under every corruption, with its training statistics.

    Args:
        models: seed -> trained model; the seed also seeds the corruption.

    Returns:
        One row per seed, kind and severity, with column `accuracy`; kind `CLEAN` at severity 0
        is the uncorrupted test set.
    """
    x, y = test
    rows = []
    for seed, model in models.items():
        rows.append({"seed": seed, "kind": CLEAN, "severity": 0, "accuracy": accuracy(model, x, y)})
        for kind in kinds:
            for severity in severities:
                rows.append({"seed": seed, "kind": kind, "severity": severity,
                             "accuracy": accuracy(model, corrupt(x, kind, severity, seed), y)})
    return pd.DataFrame(rows)


def repairs(model: keras.Model, target: np.ndarray, test: tuple, seed: int, severity: int,
            kinds: Iterable[str] = CORRUPTIONS, batch_sizes: Sequence[int] = (1, 8, 32, 256)) -> dict:
    """Accuracy on corrupted test digits with no repair, recalibrated on unlabeled target images, and with
    the statistics of test batches, per kind; for `over_seeds`.

    Args:
        target: unlabeled images that get the same corruption (seeded apart from the test digits')
            and that the recalibration measures; never the test digits themselves.
        seed: seeds the corruptions.

    Returns:
        {method: {kind: accuracy}}, the kinds led by `CLEAN` (no corruption, recalibrated on the
        clean target).
    """
    x, y = test
    recalibrated = copy_model(model)
    by_batch = {size: with_batch_statistics(model, size) for size in batch_sizes}
    result = {NO_REPAIR: {}, RECALIBRATED_ON_TARGET: {}, **{batch_statistics_method(size): {} for size in batch_sizes}}
    for kind in (CLEAN, *kinds):
        if kind == CLEAN:
            shifted_test, shifted_target = x, target
        else:
            shifted_test, shifted_target = corrupt(x, kind, severity, seed), corrupt(target, kind, severity, seed + 1)
        result[NO_REPAIR][kind] = accuracy(model, shifted_test, y)
        recalibrate_batchnorm(recalibrated, shifted_target)
        result[RECALIBRATED_ON_TARGET][kind] = accuracy(recalibrated, shifted_test, y)
        for size, copy in by_batch.items():
            result[batch_statistics_method(size)][kind] = accuracy(copy, shifted_test, y)
    return result


def target_sizes(model: keras.Model, target: np.ndarray, test: tuple, seed: int, kind: str, severity: int,
                 sizes: Sequence[int]) -> dict[int, float]:
    """Accuracy on corrupted test digits after recalibrating on the first `size` corrupted target images,
    for each size; for `over_seeds` (the seed draws which target images come first)."""
    if max(sizes) > len(target):
        raise ValueError(f"sizes go up to {max(sizes)}, but there are {len(target)} target images; "
                         "pass more target images or smaller sizes.")
    x, y = test
    shifted_test = corrupt(x, kind, severity, seed)
    shifted_target = corrupt(target, kind, severity, seed + 1)[np.random.default_rng(seed).permutation(len(target))]
    recalibrated = copy_model(model)
    result = {}
    for size in sizes:
        recalibrate_batchnorm(recalibrated, shifted_target[:size])
        result[size] = accuracy(recalibrated, shifted_test, y)
    return result


def _split_model() -> keras.Model:
    """The shift model with `SplitBatchNormalization` in place of each BatchNormalization layer."""
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.BatchNormalization):
            return SplitBatchNormalization(**layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(build_functional(), clone_function=clone)


def normalization_batch_sizes(train: tuple, test: tuple, group_sizes: Sequence[int], seeds: Iterable[int],
                              epochs: int = 2, batch_size: int = 256, scored: int = 1024,
                              progress: Callable[[str], None] = print) -> pd.DataFrame:
    """Train with BatchNormalization over groups of each size within batches of `batch_size`, then score
    the training digits with their groups' statistics and the test digits with groups' and with
    population statistics.

    Every run takes the same steps from its seed's initial weights; only the groups whose
    statistics BatchNormalization uses differ. Population statistics are the exact statistics
    of the first `scored` training digits (`recalibrate_batchnorm`), the same digits whose
    accuracy is scored with their groups' statistics.

    Returns:
        One row per seed, group size and metric (`TRAINING_BATCHES`, `TEST_BATCHES`,
        `TEST_POPULATION`), with column `accuracy`.
    """
    bad = [size for size in group_sizes if size < 2 or batch_size % size]
    if bad:
        raise ValueError(f"group sizes {bad} do not split batches of {batch_size} into groups of at least 2; "
                         f"pass divisors of {batch_size} from 2 up.")
    model = _split_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    x, y = train
    rows = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        start = _split_model()
        for size in group_sizes:
            progress(f"seed {seed}, groups of {size}")
            _restart(model, start, learning_rate)
            for layer in model.layers:
                if isinstance(layer, SplitBatchNormalization):
                    layer.group_size.assign(size)
            keras.utils.set_random_seed(seed)
            model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
            grouped = with_batch_statistics(model, size)
            population = copy_model(model)
            recalibrate_batchnorm(population, x[:scored])
            for metric, value in ((TRAINING_BATCHES, accuracy(grouped, x[:scored], y[:scored], batch_size=batch_size)),
                                  (TEST_BATCHES, accuracy(grouped, *test, batch_size=batch_size)),
                                  (TEST_POPULATION, accuracy(population, *test))):
                rows.append({"seed": seed, "group size": size, "metric": metric, "accuracy": value})
    return pd.DataFrame(rows)


def normalization_batch_size_report(group_sizes: list[int], seeds: list[int], epochs: int = 1,
                                    batch_size: int = 128, scored: int = 1024, test_size: int = 500) -> list[dict]:
    """`normalization_batch_sizes` on the offline digits' split and its first `test_size` test digits,
    as JSON records, so that a notebook can run it in a process of its own (`utils.run_on`)."""
    (x, y), (x_test, y_test) = load_mnist_subset()
    table = normalization_batch_sizes((x, y), (x_test[:test_size], y_test[:test_size]), group_sizes, seeds,
                                      epochs=epochs, batch_size=batch_size, scored=scored,
                                      progress=lambda note: None)
    return table.to_dict(orient="records")
