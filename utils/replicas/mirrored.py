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


class ReplicaTraining:
    """The seed model trained four ways from each seed's start: call it with a seed, as `over_seeds` does.

    One device with the global batch, one device with one replica's share of it as its
    batch, and the replicas with BatchNormalization not synchronized and synchronized.
    Every run goes once through the same training images (so the one-device run with the
    share takes more steps); `plan` says what each did. The four models are built and
    compiled once and reset to each seed's start, and each trains with `training_pass`
    (fit's own `train_step` on every batch, in one traced loop), so that a seed costs
    no new tracing and no Python between steps.
    """

    def __init__(self, strategy, train: tuple, test: tuple, batch_size: int = 4, epochs: int = 1):
        import tensorflow as tf

        from utils.models import build_functional

        replicas = strategy.num_replicas_in_sync
        if batch_size % replicas:
            raise ValueError(f"batch_size={batch_size} does not split evenly over {replicas} replicas.")
        share = batch_size // replicas
        self.train, self.test, self.epochs = train, test, epochs
        # name -> (strategy or None, images per step, synchronized, images BatchNormalization sees)
        self.runs = {f"one device, batch {batch_size}": (None, batch_size, False, batch_size),
                     f"one device, batch {share}": (None, share, False, share),
                     f"{replicas} replicas x {share}, not synchronized": (strategy, batch_size, False, share),
                     f"{replicas} replicas x {share}, synchronized": (strategy, batch_size, True, batch_size)}
        self.models = {name: _compiled_seed_model(distribution, synchronized)
                       for name, (distribution, _, synchronized, _) in self.runs.items()}
        self.passes = {name: training_pass(model) for name, (model, _) in self.models.items()}
        # Every run is measured on one device with its weights, as a saved model would be.
        self.saved = build_functional()
        # Training mode on every test batch in one traced loop, so that batches of 2 stay cheap.
        # One batch at a time: Dropout drops in training mode, and parallel batches would
        # draw its masks in a different order on every run.
        self.training_mode = tf.function(lambda batches: tf.map_fn(
            lambda batch: self.saved(batch, training=True), batches, parallel_iterations=1), reduce_retracing=True)
        self.steps: dict[str, int] = {}
        # The batch sizes BatchNormalization saw in training: every run is scored at each.
        self.test_batches = sorted({sees for *_, sees in self.runs.values()})

    def __call__(self, seed: int) -> dict[str, dict[str, float]]:
        """Train the four runs from `seed`'s start and data order; measure each on the test digits.

        Returns:
            For each run: `test accuracy` (inference mode); for each test batch size in
            `test_batches` (every run at every size, so that runs compare like with like),
            `training-mode accuracy, test batches of N` and `gap, test batches of N` (the
            inference-mode accuracy minus that one).
        """
        import keras

        from utils.models import build_functional
        from utils.session import seed_everything

        seed_everything(seed)
        fresh = build_functional()
        start = fresh.get_weights(), _seed_states(fresh)
        order = np.random.default_rng(seed).permutation(len(self.train[0]))
        x, y = self.train[0][order], self.train[1][order]
        results = {}
        for name, (_, size, _, _) in self.runs.items():
            model, optimizer_start = self.models[name]
            _reset(model, start, optimizer_start)
            self.passes[name](_batches(model.distribute_strategy, x, y, size, self.epochs))
            # The optimizer counts the steps it took: what the run did, not what it was asked.
            self.steps[name] = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
            self.saved.set_weights(model.get_weights())
            # Dropout drops in training mode too: it draws from the seed's start on every run.
            for variable, value in zip(_seed_states(self.saved), start[1], strict=True):
                variable.assign(np.asarray(value))
            results[name] = _accuracies(self.saved, self.training_mode, *self.test, self.test_batches)
        return results

    def plan(self) -> pd.DataFrame:
        """What each run did in the last call: devices, images per step, images its
        BatchNormalization normalised together, steps, images seen."""
        if not self.steps:
            raise RuntimeError("No run yet: call this object with a seed first (or pass it to over_seeds).")
        rows = {}
        for name, (distribution, size, _, sees) in self.runs.items():
            devices = 1 if distribution is None else distribution.num_replicas_in_sync
            rows[name] = {"devices": devices, "images per step": size, "BatchNormalization sees": sees,
                          "steps": self.steps[name], "images seen": self.steps[name] * size}
        return pd.DataFrame(rows).T


def replica_training(strategy, train: tuple, test: tuple, batch_size: int = 4, epochs: int = 1) -> ReplicaTraining:
    """The seed model on one device and on `strategy`'s replicas, as a measurement to run per seed.

    Returns:
        A `ReplicaTraining`: `utils.over_seeds(training, seeds)` trains and measures its four
        runs for each seed; `training.plan()` then says what each run did.
    """
    return ReplicaTraining(strategy, train, test, batch_size, epochs)


def replica_training_report(seeds: list[int] = (0, 1, 2), train_images: int = 600, test_images: int = 500,
                            batch_size: int = 4, replicas: int = 2) -> dict:
    """`ReplicaTraining` over `seeds` on the first images of the offline digits, as plain JSON values.

    Splits the CPU first, so it needs a process where TensorFlow has not computed yet: call
    it with `utils.run_on("tensorflow", "replica_training_report", ...)` from anywhere else.

    Returns:
        `keras_version`; `table`: the rows of `over_seeds` (seed, method, metric, value);
        `plan`: what each run did (`ReplicaTraining.plan`), {run: {column: value}}.
    """
    import keras

    from utils.data import load_mnist_subset
    from utils.seeds import over_seeds

    (x_train, y_train), (x_test, y_test) = load_mnist_subset()
    training = replica_training(mirrored_strategy(replicas), (x_train[:train_images], y_train[:train_images]),
                                (x_test[:test_images], y_test[:test_images]), batch_size)
    table = over_seeds(training, seeds)
    return {"keras_version": keras.__version__, "table": table.to_dict("records"),
            "plan": {run: {key: int(value) for key, value in row.items()}
                     for run, row in training.plan().to_dict("index").items()}}


def training_pass(model):
    """A traced function that runs `model.train_step`, the step `fit` runs, on every batch of a dataset.

    The same steps as `fit` on the same batches (equal up to float32 rounding), under the
    model's strategy, in one loop inside the graph: `fit` returns to Python after every step, which under a
    MirroredStrategy on CPU costs more than the step of a small model. (`fit` with
    `steps_per_execution` would do the same, but fails under MirroredStrategy in Keras 3.15.)

    Returns:
        A function of a dataset distributed with `model.distribute_strategy` (see `_batches`).
    """
    import tensorflow as tf

    strategy = model.distribute_strategy

    @tf.function
    def run(batches):
        for batch in batches:
            strategy.run(model.train_step, args=(batch,))

    return run


def _batches(strategy, x: np.ndarray, y: np.ndarray, size: int, epochs: int):
    """(x, y) in global batches of `size`, in order, `epochs` times, split over `strategy`'s replicas as `fit` does."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(size).repeat(epochs)
    return strategy.experimental_distribute_dataset(batches)


def _compiled_seed_model(distribution, synchronized: bool) -> tuple:
    """The seed model, compiled under `distribution` (one device when None), with its optimizer built.

    Returns:
        The model, and its optimizer variables' values before any step, to reset it to.
    """
    from utils.models import build_functional

    with distribution.scope() if distribution is not None else contextlib.nullcontext():
        model = build_functional()
        if synchronized:
            model = with_synchronized_batchnorm(model)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)
    return model, [np.asarray(variable) for variable in model.optimizer.variables]


def _seed_states(model) -> list:
    """The states of `model`'s random seed generators (Dropout's), which `get_weights` leaves out."""
    return [variable for variable in model.variables if variable.path.endswith("seed_generator_state")]


def _reset(model, start: tuple, optimizer_start: list) -> None:
    """Put `model` back at `start`, a fresh model's weights and seed states, and its optimizer
    as before any step (Adam's moments and step count at 0)."""
    weights, seed_states = start
    model.set_weights(weights)
    # Dropout draws as a model freshly built from the seed would, whatever ran before.
    for variable, fresh in zip(_seed_states(model), seed_states, strict=True):
        variable.assign(np.asarray(fresh))
    for variable, value in zip(model.optimizer.variables, optimizer_start):
        variable.assign(value)


def _accuracies(model, training_mode, x: np.ndarray, y: np.ndarray, sizes: list[int]) -> dict[str, float]:
    """Test accuracy of `model` in inference mode, and in training mode (`training_mode`: the
    model called with training=True on each batch, Dropout dropping too) on batches of each of `sizes`.

    Training mode updates the moving statistics: the next `set_weights` overwrites them.
    """
    inference = model.predict(x, batch_size=500, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(inference == y))
    results = {"test accuracy": accuracy}
    for size in sizes:
        if len(x) % size:
            raise ValueError(f"{len(x)} test images do not split into batches of {size}; pass a multiple of {size}.")
        batches = x.reshape(-1, size, *x.shape[1:])
        training = np.asarray(training_mode(batches)).reshape(len(x), -1).argmax(axis=1)
        results[f"training-mode accuracy, test batches of {size}"] = float(np.mean(training == y))
    for size in sizes:
        results[f"gap, test batches of {size}"] = accuracy - results[f"training-mode accuracy, test batches of {size}"]
    return results
