"""Notebook 08's clinic: one checker per exercise, each running the learner's code and saying what is still wrong."""

from collections.abc import Callable

import keras
import numpy as np

from utils.bn import moved_layers, moving_statistics
from utils.checks.report import CLASSES, FEATURES, Report, exercise_data, fit_again, run_learner_code, seeded_model
from utils.compat import construction_time_training


def check_train_step(train_step: Callable) -> Report:
    """Exercise: `train_step(model, optimizer, x, y)` must run one real training step."""
    exercise = "a custom training step"
    model, (x, y) = seeded_model(probe=True), exercise_data()
    before = moving_statistics(model)
    kernel = model.get_layer("dense").kernel.numpy()
    _, failed = run_learner_code(exercise, train_step, model, keras.optimizers.Adam(), x, y)
    if failed:
        return failed
    problems = []
    received = model.get_layer("probe").received
    if received is not True:
        problems.append(
            f"Inside your step the model ran in inference mode (its layers received training={received}): "
            "BatchNormalization normalised with its moving statistics and never updated them, and "
            "Dropout did not drop. Call the model as model(x, training=True) inside your step "
            "(on JAX: model.stateless_call(..., training=True)).")
    elif not moved_layers(model, before):
        problems.append("BatchNormalization's moving statistics did not change in your step.")
    if np.array_equal(kernel, model.get_layer("dense").kernel.numpy()):
        problems.append("No weight changed: compute the gradients of the loss with respect to "
                        "model.trainable_weights and apply them with optimizer.apply(...).")
    return Report(exercise, problems)


def check_mc_predict(mc_predict: Callable) -> Report:
    """Exercise: `mc_predict(model, x, samples)` must give varied predictions and leave BN alone."""
    exercise = "Monte Carlo dropout predictions"
    model, (x, y) = seeded_model(), exercise_data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    before = moving_statistics(model)
    result, failed = run_learner_code(exercise, mc_predict, model, x, 5)
    if failed:
        return failed
    problems = []
    moved = moved_layers(model, before)
    if moved:
        problems.append(
            f"Your predictions changed the model: the moving statistics of {moved} moved. "
            "model(x, training=True) puts BatchNormalization in training mode too, so each pass "
            "normalises with the batch and updates the statistics. Make only Dropout drop: "
            "utils.with_mc_dropout(model) gives a model that does that.")
    result = np.asarray(result)
    if result.shape != (5, len(x), CLASSES):
        problems.append(f"Expected an array of shape (samples, examples, classes) = {(5, len(x), CLASSES)}, "
                        f"got {result.shape}.")
    elif np.array_equal(result[0], result[1]):
        problems.append("Every pass gave the same prediction: Dropout did not drop. Monte Carlo "
                        "dropout needs Dropout active in each pass.")
    return Report(exercise, problems)


def check_mc_model(build: Callable) -> Report:
    """Exercise: `build()` must return a model whose `predict` drops units, with no `training=` written in."""
    exercise = "a model that is random under predict"
    keras.utils.set_random_seed(0)
    model, failed = run_learner_code(exercise, build)
    if failed:
        return failed
    problems = []
    written = list(construction_time_training(model))
    x = np.ones((8, *model.input_shape[1:]), "float32")
    # Measured, not read off the version: only what predict does here is known.
    repeats = np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    if written:
        here = ("overrides it with training=False, so Dropout does not drop there" if repeats
                else "keeps it, so Dropout drops there")
        problems.append(
            f"Layers {written} are called with a training= value written into the model. On this Keras "
            f"({keras.__version__}) predict {here}. Nothing promises that another Keras does the same "
            "(notebook 01 measures the installed Keras beside Keras 2, tf-keras). Use a layer that always "
            "drops instead: utils.MCDropout(rate).")
    if repeats:
        problems.append("predict gave the same output twice: no Dropout is dropping under predict on "
                        f"this Keras ({keras.__version__}).")
    return Report(exercise, problems)


def _pretrained_base() -> keras.Model:
    """A small base whose BatchNormalization holds statistics from 'pretraining'."""
    inputs = keras.Input((FEATURES,))
    x = keras.layers.Dense(8, name="base_dense")(inputs)
    outputs = keras.layers.BatchNormalization(name="base_batchnorm")(x)
    base = keras.Model(inputs, outputs, name="base")
    base.get_layer("base_batchnorm").moving_mean.assign(np.full(8, 0.5, "float32"))
    return base


def check_fine_tuning(prepare: Callable) -> Report:
    """Exercise: `prepare(model, base)` must unfreeze `base` for fine-tuning, BN protected."""
    exercise = "fine-tuning that protects BatchNormalization"
    keras.utils.set_random_seed(0)
    base = _pretrained_base()
    base.trainable = False
    inputs = keras.Input((FEATURES,))
    # No training= written into the model: what protects BatchNormalization here is trainable alone.
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(base(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = exercise_data()
    model.fit(x, y, batch_size=16, verbose=0)
    before = moving_statistics(base)
    kernel = base.get_layer("base_dense").kernel.numpy()
    _, failed = run_learner_code(exercise, prepare, model, base)
    if failed:
        return failed
    refused = fit_again(exercise, model, x, y)
    if refused:
        return refused
    problems = []
    moved = moved_layers(base, before)
    if moved:
        problems.append(
            f"The moving statistics of {moved} moved during fine-tuning: with trainable=True, "
            "BatchNormalization ran in training mode under fit, normalising with each batch's "
            "statistics and updating its moving statistics. Keep the BatchNormalization layers "
            "frozen (trainable=False), e.g. utils.unfreeze(base).")
    if np.array_equal(kernel, base.get_layer("base_dense").kernel.numpy()):
        problems.append("The base's Dense layer did not train: unfreeze it, then compile the model again.")
    return Report(exercise, problems)


def check_freeze(freeze: Callable) -> Report:
    """Exercise: after `freeze(model)`, the next `fit` must leave the layer "first" unchanged."""
    exercise = "freezing a layer after training"
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(8, name="first"),
                              keras.layers.Dense(CLASSES, activation="softmax", name="head")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = exercise_data()
    model.fit(x, y, batch_size=16, verbose=0)
    _, failed = run_learner_code(exercise, freeze, model)
    if failed:
        return failed
    problems = []
    if model.get_layer("first").trainable:
        problems.append('The layer "first" is still trainable: set its trainable attribute to False.')
    kernel = model.get_layer("first").kernel.numpy()
    refused = fit_again(exercise, model, x, y)
    if refused:
        return refused
    if not problems and not np.array_equal(kernel, model.get_layer("first").kernel.numpy()):
        problems.append(
            'The frozen layer "first" still changed in the next fit: the model had been trained, and '
            "its training step was built with the old list of trainable weights. Call "
            "model.compile(...) again after changing trainable.")
    return Report(exercise, problems)


class _SmallestTrainingBatch(keras.layers.Layer):
    """A pass-through layer that remembers the smallest batch it saw in training mode."""

    def build(self, input_shape):
        self.smallest = self.add_weight(shape=(), initializer=keras.initializers.Constant(1e9),
                                        trainable=False, name="smallest")

    def call(self, inputs, training=None):
        if training:
            size = keras.ops.cast(keras.ops.shape(inputs)[0], "float32")
            self.smallest.assign(keras.ops.minimum(self.smallest, size))
        return inputs


def check_stream_training(train: Callable) -> Report:
    """Exercise: `train(model, x, y)` must train a BatchNormalization model on batches bigger than 1."""
    exercise = "training on a stream of examples"
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,))
    watch = _SmallestTrainingBatch(name="watch")
    x = keras.layers.BatchNormalization(name="batchnorm")(watch(keras.layers.Dense(8)(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = exercise_data()
    _, failed = run_learner_code(exercise, train, model, x, y)
    if failed:
        return failed
    smallest = float(watch.smallest.numpy())
    if smallest > 1e8:
        return Report(exercise, ["The model was never trained: call fit or train_on_batch."])
    if smallest <= 1:
        return Report(exercise, [
            "BatchNormalization saw a batch of 1 in training mode. It follows a Dense layer, so each "
            "channel has one value per example: one example is its own batch mean, BatchNormalization "
            "outputs beta whatever the input, and nothing before it can learn. Train on mini-batches, "
            "e.g. model.fit(x, y, batch_size=32), or use LayerNormalization, which does not depend "
            "on the batch."])
    return Report(exercise, [])


def check_training_mode_loss(training_mode_loss: Callable) -> Report:
    """Exercise: `training_mode_loss(model, x, y)` must measure the loss fit sees, changing nothing."""
    exercise = "the loss in training mode, measured without side effects"
    model, (x, y) = seeded_model(), exercise_data()
    model.fit(x, y, batch_size=16, verbose=0)
    before = moving_statistics(model)
    weights = [w.numpy() for w in model.trainable_weights]
    value, failed = run_learner_code(exercise, training_mode_loss, model, x, y)
    if failed:
        return failed
    problems = []
    inference = float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=False))))
    moved = moved_layers(model, before)
    if moved:
        problems.append(f"Measuring changed the model: the moving statistics of {moved} moved. A call "
                        "with training=True updates them; wrap it in utils.keep_moving_statistics(model).")
    if any(not np.array_equal(a, w.numpy()) for a, w in zip(weights, model.trainable_weights)):
        problems.append("Measuring changed the weights: do not train, only call the model.")
    if not np.isfinite(np.asarray(value, dtype="float64")).all() or np.size(value) != 1:
        problems.append(f"Expected one finite number, got {value!r}.")
    elif abs(float(value) - inference) < 1e-6:
        problems.append("That is the inference-mode loss, what evaluate reports (Dropout off, moving "
                        "statistics). fit reports training mode: call the model with training=True.")
    return Report(exercise, problems)


def check_dropout_in_training(show_dropout: Callable) -> Report:
    """Exercise: `show_dropout(layer, x)` must return what a Dropout layer does to `x` in training."""
    exercise = "what Dropout does during training"
    x = np.ones((4, 100), "float32")
    keras.utils.set_random_seed(0)
    layer = keras.layers.Dropout(0.5)
    result, failed = run_learner_code(exercise, show_dropout, layer, x)
    if failed:
        return failed
    result = keras.ops.convert_to_numpy(result)
    if np.array_equal(result, x):
        return Report(exercise, [
            "The output equals the input: the layer ran in inference mode. A call without "
            "training runs in inference mode outside fit; pass training=True."])
    if not set(np.unique(result)) <= {0.0, 1 / (1 - layer.rate)}:
        return Report(exercise, ["Expected zeros and survivors scaled by 1 / (1 - rate); got other values."])
    return Report(exercise, [])
