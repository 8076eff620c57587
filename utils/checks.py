"""Checkers for the clinic's exercises: run the learner's code, say what is still wrong."""

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from utils.bn import moved_layers, moving_statistics
from utils.compat import construction_time_training
from utils.data import off_centre_batch
from utils.probes import TrainingProbe

_FEATURES, _CLASSES = 4, 3


@dataclass(repr=False)
class Report:
    """What a checker found: passed when there are no problems."""

    exercise: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.passed:
            return f"PASSED: {self.exercise}"
        return "\n".join([f"NOT YET: {self.exercise}", *(f"- {problem}" for problem in self.problems)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        if self.passed:
            return f"✅ **{self.exercise}**: passed."
        return "\n".join([f"❌ **{self.exercise}**: not yet.", "", *(f"- {p}" for p in self.problems)])


def _data() -> tuple[np.ndarray, np.ndarray]:
    """A fresh copy for each check: the learner's code may change what it is given."""
    return off_centre_batch(64, _FEATURES, mean=3.0, std=2.0, classes=_CLASSES)


def _seeded_model(probe: bool = False) -> keras.Model:
    """Dense -> (probe) -> BatchNormalization -> Dropout -> softmax, compiled, from seed 0."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((_FEATURES,))
    x = keras.layers.Dense(8, name="dense")(inputs)
    if probe:
        x = TrainingProbe(name="probe")(x)
    x = keras.layers.BatchNormalization(name="batchnorm")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    model = keras.Model(inputs, keras.layers.Dense(_CLASSES, activation="softmax", name="head")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _run(exercise: str, call: Callable, *args):
    """Call the learner's code; an exception becomes a problem, not a crash."""
    try:
        return call(*args), None
    except Exception as error:  # the learner's code may raise anything
        return None, Report(exercise, [f"Your code raised {type(error).__name__}: {error}"])


def _fit_again(exercise: str, model: keras.Model, x, y) -> Report | None:
    """Fit after the learner changed `trainable`; a refusal (the JAX backend) becomes a problem."""
    try:
        model.fit(x, y, batch_size=16, verbose=0)
    except ValueError as error:
        return Report(exercise, [
            f"After your change the next fit raised ValueError ({str(error).splitlines()[0][:120]}...): "
            "the optimizer was built for the old list of trainable weights. After changing trainable, "
            "compile the model again: call model.compile(...) again before fit."])
    return None


def check_train_step(train_step: Callable) -> Report:
    """Exercise: `train_step(model, optimizer, x, y)` must run one real training step."""
    exercise = "a custom training step"
    model, (x, y) = _seeded_model(probe=True), _data()
    before = moving_statistics(model)
    kernel = model.get_layer("dense").kernel.numpy()
    _, failed = _run(exercise, train_step, model, keras.optimizers.Adam(), x, y)
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
    model, (x, y) = _seeded_model(), _data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    before = moving_statistics(model)
    result, failed = _run(exercise, mc_predict, model, x, 5)
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
    if result.shape != (5, len(x), _CLASSES):
        problems.append(f"Expected an array of shape (samples, examples, classes) = {(5, len(x), _CLASSES)}, "
                        f"got {result.shape}.")
    elif np.array_equal(result[0], result[1]):
        problems.append("Every pass gave the same prediction: Dropout did not drop. Monte Carlo "
                        "dropout needs Dropout active in each pass.")
    return Report(exercise, problems)


def check_mc_model(build: Callable) -> Report:
    """Exercise: `build()` must return a model whose `predict` drops units, with no `training=` written in."""
    exercise = "a model that is random under predict"
    keras.utils.set_random_seed(0)
    model, failed = _run(exercise, build)
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
    inputs = keras.Input((_FEATURES,))
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
    inputs = keras.Input((_FEATURES,))
    # No training= written into the model: what protects BatchNormalization here is trainable alone.
    outputs = keras.layers.Dense(_CLASSES, activation="softmax")(base(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.fit(x, y, batch_size=16, verbose=0)
    before = moving_statistics(base)
    kernel = base.get_layer("base_dense").kernel.numpy()
    _, failed = _run(exercise, prepare, model, base)
    if failed:
        return failed
    refused = _fit_again(exercise, model, x, y)
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
    model = keras.Sequential([keras.Input((_FEATURES,)), keras.layers.Dense(8, name="first"),
                              keras.layers.Dense(_CLASSES, activation="softmax", name="head")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data()
    model.fit(x, y, batch_size=16, verbose=0)
    _, failed = _run(exercise, freeze, model)
    if failed:
        return failed
    problems = []
    if model.get_layer("first").trainable:
        problems.append('The layer "first" is still trainable: set its trainable attribute to False.')
    kernel = model.get_layer("first").kernel.numpy()
    refused = _fit_again(exercise, model, x, y)
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
    inputs = keras.Input((_FEATURES,))
    watch = _SmallestTrainingBatch(name="watch")
    x = keras.layers.BatchNormalization(name="batchnorm")(watch(keras.layers.Dense(8)(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(_CLASSES, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data()
    _, failed = _run(exercise, train, model, x, y)
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
    model, (x, y) = _seeded_model(), _data()
    model.fit(x, y, batch_size=16, verbose=0)
    before = moving_statistics(model)
    weights = [w.numpy() for w in model.trainable_weights]
    value, failed = _run(exercise, training_mode_loss, model, x, y)
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
    result, failed = _run(exercise, show_dropout, layer, x)
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



def _layer_input_statistics(model: keras.Model, layer: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the variance (divided by N) of what `layer` receives on `x` in inference mode."""
    inputs = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer(layer).input)(x, training=False))
    return inputs.astype(np.float64).mean(axis=0), inputs.astype(np.float64).var(axis=0)


def check_recalibration(repair: Callable) -> Report:
    """Exercise: `repair(model, x_train, x_test)` must give BN the exact statistics of the training inputs."""
    exercise = "honest statistics for a freshly trained model"
    model, (x_train, y_train) = _seeded_model(), _data()
    x_test, _ = off_centre_batch(64, _FEATURES, mean=-2.0, std=1.0, classes=_CLASSES, seed=1)
    model.fit(x_train, y_train, batch_size=16, epochs=2, verbose=0)
    stale = moving_statistics(model)["batchnorm"]
    statistics = {id(model.get_layer("batchnorm").moving_mean), id(model.get_layer("batchnorm").moving_variance)}
    others = [(w, keras.ops.convert_to_numpy(w)) for w in model.weights if id(w) not in statistics]
    _, failed = _run(exercise, repair, model, x_train.copy(), x_test.copy())
    if failed:
        return failed
    changed = [w.path for w, value in others if not np.array_equal(value, keras.ops.convert_to_numpy(w))]
    problems = []
    if changed:
        problems.append(f"Your repair changed {changed}: only the moving statistics should change. Calling "
                        "fit or train_on_batch trains the weights too.")
    mean, variance = moving_statistics(model)["batchnorm"]
    train_mean, train_variance = _layer_input_statistics(model, "batchnorm", x_train)
    test_mean, _ = _layer_input_statistics(model, "batchnorm", x_test)
    if np.allclose(mean, train_mean, rtol=1e-3, atol=1e-5) and np.allclose(variance, train_variance,
                                                                           rtol=1e-3, atol=1e-5):
        return Report(exercise, problems)
    if np.array_equal(mean, stale[0]) and np.array_equal(variance, stale[1]):
        problems.append("The moving statistics are unchanged: still the stale values training left, which "
                        "lag behind what the layer's inputs really are.")
    elif np.abs(mean - test_mean).mean() < np.abs(stale[0] - test_mean).mean():
        problems.append("The moving statistics moved toward the test inputs' statistics: the test set leaked "
                        "into the model, and its score is no longer a fair one. Take them from x_train.")
    elif np.allclose(mean, train_mean, rtol=1e-3, atol=1e-5):
        problems.append("The moving means are right; the variances are not. BatchNormalization's moving "
                        "variance is the variance divided by N (numpy's default, ddof=0).")
    else:
        problems.append("The moving statistics are not those of the training inputs. Calls in training mode "
                        "move them only part of the way (by 1 - momentum per batch).")
    problems.append("Set them exactly: utils.recalibrate_batchnorm(model, x_train), or assign the mean and "
                    "variance of what the layer receives over x_train, in inference mode, to "
                    "moving_mean and moving_variance.")
    return Report(exercise, problems)


def check_fold_into_next(fold: Callable) -> Report:
    """Exercise: `fold(batchnorm, dense)` must return the Dense's (kernel, bias) with the BN folded in."""
    exercise = "folding a BatchNormalization that follows a ReLU into the next Dense"
    keras.utils.set_random_seed(0)
    inputs = keras.Input((_FEATURES,))
    hidden = keras.layers.Dense(8, activation="relu", name="dense")(inputs)
    normalised = keras.layers.BatchNormalization(name="batchnorm")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(_CLASSES, name="head")(normalised))
    batchnorm, head = model.get_layer("batchnorm"), model.get_layer("head")
    rng = np.random.default_rng(0)
    for variable, value in zip(batchnorm.weights, (rng.uniform(0.5, 2, 8), rng.normal(0, 1, 8),
                                                   rng.normal(1, 1, 8), rng.uniform(0.1, 4, 8))):
        variable.assign(value.astype("float32"))  # gamma, beta, moving mean, moving variance
    x, _ = _data()
    result, failed = _run(exercise, fold, batchnorm, head)
    if failed:
        return failed
    try:
        kernel, bias = (keras.ops.convert_to_numpy(part).astype(np.float64) for part in result)
    except (TypeError, ValueError):
        return Report(exercise, [f"Return two arrays, (kernel, bias); got {type(result).__name__}."])
    old_kernel, old_bias = head.get_weights()
    if kernel.shape != old_kernel.shape or bias.shape != old_bias.shape:
        return Report(exercise, [f"Keep the Dense's shapes: kernel {old_kernel.shape} and bias {old_bias.shape}; "
                                 f"got {kernel.shape} and {bias.shape}."])
    gamma, beta, mean, variance = (w.astype(np.float64) for w in batchnorm.get_weights())
    scale = gamma / np.sqrt(variance + batchnorm.epsilon)
    shift = beta - scale * mean
    features = keras.ops.convert_to_numpy(keras.Model(inputs, hidden)(x)).astype(np.float64)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    if np.abs(features @ kernel + bias - expected).max() <= 1e-4:
        return Report(exercise, [])
    problems = []
    if not np.allclose(kernel, old_kernel * scale[:, None], rtol=1e-5, atol=1e-6):
        if np.allclose(kernel, old_kernel * (gamma / np.sqrt(variance))[:, None], rtol=1e-5, atol=1e-6):
            problems.append("The kernel leaves out epsilon: scale = gamma / sqrt(moving_variance + epsilon).")
        else:
            problems.append("The kernel is not right. BatchNormalization turns input i into scale[i] * x[i] + "
                            "shift[i], with scale = gamma / sqrt(moving_variance + epsilon); the next Dense "
                            "multiplies input i by row i of its kernel, so row i gets scale[i]: "
                            "kernel * scale[:, None].")
    if np.allclose(bias, old_bias):
        problems.append("The bias is unchanged, so the shift is lost: shift = beta - scale * moving_mean is "
                        "added to every input, and the Dense turns it into shift @ kernel, a constant that "
                        "belongs in the bias: bias + shift @ kernel (the original kernel).")
    elif not np.allclose(bias, old_bias + shift @ old_kernel, rtol=1e-5, atol=1e-5):
        problems.append("The bias is not right: it should be bias + shift @ kernel, with the original kernel "
                        "and shift = beta - scale * moving_mean.")
    return Report(exercise, problems or ["The outputs differ from the model's, though kernel and bias look "
                                         "right: check the dtypes (float32)."])
