"""Several replicas in one process: tf.distribute.MirroredStrategy over logical CPU devices.

Keras and the helpers that use it are imported inside the functions: the worker processes
of `python -m utils.replicas` load this package, and those for Keras 2 must not load Keras 3.
"""

import contextlib

import numpy as np
import pandas as pd

from utils.arithmetic import batch_statistics, batchnorm_reference
from utils.replicas.batches import DIGITS, batchnorm_probe, check_workers, digit_batch

# Images per replica in `mirrored_report`: one global batch of 32 per replica.
MIRRORED_SHARE = 32


def split_cpu(replicas: int = 2) -> list[str]:
    """Split this process's CPU into `replicas` logical devices, for a MirroredStrategy.

    TensorFlow fixes its devices when it first runs an operation, so this must run before
    anything computes with TensorFlow (importing it and seeding are fine).

    Returns:
        The names of the logical CPU devices.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError as error:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != replicas:
            raise RuntimeError(
                f"TensorFlow has already started with {have} CPU device(s), so it cannot be split "
                f"into {replicas} any more. Restart the kernel and call split_cpu({replicas}) "
                "before anything computes with TensorFlow."
            ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def mirrored_strategy(replicas: int = 2):
    """A `tf.distribute.MirroredStrategy` with one replica per logical CPU (see `split_cpu`)."""
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"tf.distribute runs TensorFlow computations, and Keras here runs on "
            f"{keras.backend.backend()}. Set KERAS_BACKEND=tensorflow before Keras is imported, "
            "or see data_parallel_report for JAX."
        )
    return tf.distribute.MirroredStrategy(split_cpu(replicas))


def replica_statistics(strategy, x: np.ndarray, y: np.ndarray, synchronized: bool) -> dict:
    """Train a `batchnorm_probe` under `strategy` for one step on (x, y), one global batch.

    Returns:
        `outputs`: what BatchNormalization gives each replica for its share of `x` in
        training mode, before the step; `moving_mean` and `moving_variance`: the moving
        statistics after the step, as the model reads (and saves) them; `replica_mean`
        and `replica_variance`: each replica's own copy of them; `recorded_mean` and
        `recorded_variance`: the batch statistics a `BatchNormRecorder` recorded for the
        step; `model`: the model.
    """
    import keras

    from utils.bn import BatchNormRecorder

    with strategy.scope():
        model, batchnorm = batchnorm_probe(keras, synchronized, x.shape[1:])
    shares = np.split(x, strategy.num_replicas_in_sync)
    inputs = strategy.experimental_distribute_values_from_function(
        lambda context: shares[context.replica_id_in_sync_group])
    # A separate layer with the same settings, so that this call leaves the model untouched.
    with strategy.scope():
        twin = keras.layers.Flatten()
        twin_batchnorm = keras.layers.BatchNormalization(momentum=0.0, synchronized=synchronized)
    outputs = strategy.run(lambda share: twin_batchnorm(twin(share), training=True), args=(inputs,))
    recorder = BatchNormRecorder()
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, callbacks=[recorder])
    copies = {name: [np.asarray(copy) for copy in strategy.experimental_local_results(variable.value)]
              for name, variable in (("mean", batchnorm.moving_mean), ("variance", batchnorm.moving_variance))}
    return {
        "outputs": [np.asarray(output) for output in strategy.experimental_local_results(outputs)],
        "moving_mean": keras.ops.convert_to_numpy(batchnorm.moving_mean),
        "moving_variance": keras.ops.convert_to_numpy(batchnorm.moving_variance),
        "replica_mean": copies["mean"],
        "replica_variance": copies["variance"],
        "recorded_mean": recorder.history["batchnorm"]["batch_mean"][0],
        "recorded_variance": recorder.history["batchnorm"]["batch_variance"][0],
        "model": model,
    }




def mirrored_report(replicas: int = 2, synchronized: bool = False) -> dict:
    """`replica_statistics` on `DIGITS` images, one digit per replica, as plain JSON values.

    Splits the CPU first, so it needs a process where TensorFlow has not computed yet:
    call it with `utils.run_on("tensorflow", "mirrored_report", ...)` from anywhere else.

    Returns:
        `replicas`, `keras_version`, `synchronized`; `global`: the mean and variance of the
        whole batch; `per_replica`: each replica's `digit`, `batch_mean`, `batch_variance`,
        the largest difference between what BatchNormalization gave it and its share normalised
        with its own statistics (`own_statistics_error`) or with the global ones
        (`global_statistics_error`), and its copy of the moving statistics after the step;
        `moving_mean` and `moving_variance` as the model reads them; `recorded_mean` and
        `recorded_variance` as a `BatchNormRecorder` recorded them. Statistics are per pixel.
    """
    import keras

    check_workers(replicas)
    strategy = mirrored_strategy(replicas)
    x, y = digit_batch(DIGITS[:replicas], MIRRORED_SHARE)
    measured = replica_statistics(strategy, x, y, synchronized)
    pixels = x.reshape(len(x), -1).astype("float64")
    overall = batch_statistics(pixels)
    per_replica = []
    for index, share in enumerate(np.split(pixels, replicas)):
        own = batch_statistics(share)
        output = measured["outputs"][index]
        per_replica.append({
            "digit": DIGITS[index], "batch_mean": own[0].tolist(), "batch_variance": own[1].tolist(),
            "own_statistics_error": float(np.abs(output - _normalised(share, *own)).max()),
            "global_statistics_error": float(np.abs(output - _normalised(share, *overall)).max()),
            "moving_mean": measured["replica_mean"][index].tolist(),
            "moving_variance": measured["replica_variance"][index].tolist(),
        })
    return {"replicas": replicas, "keras_version": keras.__version__, "synchronized": synchronized,
            "global": {"mean": overall[0].tolist(), "variance": overall[1].tolist()},
            "per_replica": per_replica,
            **{key: measured[key].tolist() for key in
               ("moving_mean", "moving_variance", "recorded_mean", "recorded_variance")}}


def _normalised(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """`x` normalised as a fresh BatchNormalization layer does (scale 1, offset 0)."""
    return batchnorm_reference(x, 1.0, 0.0, mean, variance)


def with_synchronized_batchnorm(model):
    """A copy of a Functional or Sequential `model`, with the same weights, whose BatchNormalization
    layers are synchronized. Make it inside the strategy's scope."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"Synchronized BatchNormalization belongs to tf.distribute, and Keras here runs on "
            f"{keras.backend.backend()}. On JAX, keras.distribution.DataParallel computes the global batch "
            "statistics without it (see data_parallel_report).")

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def replica_training(strategy, train: tuple, test: tuple, batch_size: int = 16, epochs: int = 1) -> pd.DataFrame:
    """Train the seed model on one device and on `strategy`'s replicas, from the same start.

    Four runs: one device with the global batch, one device with one replica's share of
    it, and the replicas with BatchNormalization not synchronized and synchronized. Each
    trained model is measured on one device with its weights as saved (`get_weights`).

    Returns:
        One row per run: `BatchNormalization sees` (how many images its statistics come
        from), `test accuracy` (inference mode), `training-mode accuracy` (the test set in
        batches of that many images, as `compare_modes` does) and `gap` (the first minus the second).
    """
    from utils.bn import compare_modes
    from utils.models import build_functional
    from utils.session import seed_everything

    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"batch_size={batch_size} does not split evenly over {replicas} replicas.")
    share = batch_size // replicas
    x, y = train
    runs = {f"one device, batch {batch_size}": (None, batch_size, False),
            f"one device, batch {share}": (None, share, False),
            f"{replicas} replicas x {share}, not synchronized": (strategy, batch_size, False),
            f"{replicas} replicas x {share}, synchronized": (strategy, batch_size, True)}
    rows = {}
    for name, (distribution, size, synchronized) in runs.items():
        seed_everything(0)
        with distribution.scope() if distribution is not None else contextlib.nullcontext():
            model = build_functional()
            if synchronized:
                model = with_synchronized_batchnorm(model)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=size, epochs=epochs, shuffle=False, verbose=0)
        saved = build_functional()
        saved.set_weights(model.get_weights())
        sees = share if distribution is not None and not synchronized else size
        modes = compare_modes(saved, *test, batch_size=sees)
        rows[name] = {"BatchNormalization sees": sees, "test accuracy": modes["inference_accuracy"],
                      "training-mode accuracy": modes["training_accuracy"],
                      "gap": modes["inference_accuracy"] - modes["training_accuracy"]}
    return pd.DataFrame(rows).T
