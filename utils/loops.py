"""Training the same model with `fit` and with a hand-written GradientTape loop."""

from collections.abc import Callable

import keras
import numpy as np
import pandas as pd

from utils.arithmetic import batchnorm_state, used_batch_statistics
from utils.bn import keep_moving_statistics, moved_layers, moving_statistics
from utils.callbacks import StepMeter
from utils.data import load_mnist_subset
from utils.models import build_functional
from utils.repair import recalibrate_batchnorm
from utils.session import seed_everything
from utils.steps import training_step

FIT, LOOP_TRAINING_TRUE, LOOP_PLAIN = "fit", "loop with model(x, training=True)", "loop with model(x)"
METHODS = (FIT, LOOP_TRAINING_TRUE, LOOP_PLAIN)


def _accuracy(model: keras.Model, test: tuple) -> float:
    """Inference-mode accuracy of `model` on `test`."""
    x, y = test
    return float(np.mean(keras.ops.convert_to_numpy(model(x, training=False)).argmax(axis=1) == y))


RECALIBRATED = "test accuracy, statistics recalibrated"


def _recalibrated_accuracy(model: keras.Model, test: tuple, x: np.ndarray) -> float:
    """`_accuracy` with BatchNormalization's statistics set to those of `x`; the model keeps its own."""
    with keep_moving_statistics(model):
        recalibrate_batchnorm(model, x)
        return _accuracy(model, test)


def train_and_track(model: keras.Model, method: str, train: tuple, test: tuple, epochs: int = 2,
                    batch_size: int = 32, every: int = 25, seed: int = 0,
                    recalibrate_on: np.ndarray | None = None) -> pd.DataFrame:
    """Train `model` with `method`, measuring inference-mode test accuracy as it goes.

    The loops run the step `fit` runs (`training_step`: the loss, its gradients
    applied to `model.trainable_weights` by Adam; on JAX through `stateless_call`,
    the non-trainable values it returns assigned back); only the `training`
    value of the call differs between them. Each loop shuffles the batches with
    NumPy; `fit` shuffles them its own way.

    Args:
        model: an uncompiled classifier with softmax outputs.
        method: one of `METHODS`.
        train: (x, y) to train on; test: (x, y) to measure on.
        every: measure after every `every` steps.
        recalibrate_on: if given, also measure with BatchNormalization's moving
            statistics recalibrated on these inputs (`recalibrate_batchnorm`), then
            put back, so that training goes on unchanged: column `RECALIBRATED`.

    Returns:
        One row per measurement: `step`, `test accuracy` (and `RECALIBRATED`).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; the methods are {list(METHODS)}.")

    def measure(model: keras.Model) -> tuple[float, ...]:
        if recalibrate_on is None:
            return (_accuracy(model, test),)
        return _accuracy(model, test), _recalibrated_accuracy(model, test, recalibrate_on)

    columns = ["step", "test accuracy"] + ([] if recalibrate_on is None else [RECALIBRATED])
    keras.utils.set_random_seed(seed)
    optimizer = keras.optimizers.Adam()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    if method == FIT:
        model.compile(optimizer=optimizer, loss=loss_fn)
        meter = StepMeter(measure, every)
        model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[meter])
        return pd.DataFrame([(step, *values) for step, values in meter.rows], columns=columns)
    rows = [(0, *measure(model))]

    training = True if method == LOOP_TRAINING_TRUE else None

    train_step = training_step(model, optimizer, loss_fn, training)

    x, y = train
    step = 0
    for _ in range(epochs):
        order = np.random.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            train_step(x[batch], y[batch])
            step += 1
            if step % every == 0:
                rows.append((step, *measure(model)))
    return pd.DataFrame(rows, columns=columns)



# The loop of keras.io's guide "Writing a training loop from scratch in JAX"
# (keras-io guides/writing_a_custom_training_loop_in_jax.py), at the two commits read for it.
# Both carry the non-trainable values `stateless_call` returns; they differ in `training`: the
# first never passes it, the second passes training=True in its first loop (not in its sections
# on metrics and losses). Which commit first passed it was not found, so the names say "at".
GUIDE_COMMIT_WITHOUT_TRAINING = "0d533f5b23bfcd23660bab643e1eab890d03e10f"
GUIDE_COMMIT_WITH_TRAINING = "737c3e276518264ede72978da1d4d3f7989c5656"
GUIDE_BEFORE = f"guide at {GUIDE_COMMIT_WITHOUT_TRAINING} (no training)"
GUIDE_AFTER = f"guide at {GUIDE_COMMIT_WITH_TRAINING} (training=True in the first loop)"
# The second loop with the returned values dropped: a mistake the guide does not make. (Without
# training=True the call returns the values unchanged, so dropping them changes nothing.)
DROPPED = "not the guide: training=True, returned values dropped"
# The same mistake for the moving statistics only: Dropout's seed state is carried, so each
# step draws a new mask, and this row isolates the moving statistics left at their start.
SEED_ONLY = "not the guide: training=True, only Dropout's seed state carried"
# What `run_guide_loop` carries from step to step: every returned value, none, or those whose
# variable path ends with this.
SEED_STATE = "seed_generator_state"
# Each loop's (training=True passed, what is carried to the next step).
GUIDE_LOOPS = {GUIDE_BEFORE: (False, True), GUIDE_AFTER: (True, True), DROPPED: (True, False),
               SEED_ONLY: (True, SEED_STATE)}


def check_jax(what: str) -> None:
    """Raise a clear error unless Keras runs on JAX, which the guide's `stateless_call` loop is written for."""
    if keras.backend.backend() != "jax":
        raise NotImplementedError(f"{what} runs the keras.io JAX guide's loop: set KERAS_BACKEND=jax "
                                  f"before importing Keras (this is {keras.backend.backend()}).")


def _guide_kwargs(training: bool) -> dict:
    """The keyword arguments the guide's `stateless_call` gets: training=True, or nothing at all."""
    return {"training": True} if training else {}


def guide_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, training: bool) -> Callable:
    """The keras.io JAX guide's jitted `train_step(state, data)` for `model`, as the guide writes it.

    Its `compute_loss_and_updates` calls `model.stateless_call` with training=True (as at
    keras-io `GUIDE_COMMIT_WITH_TRAINING`) or without it (as at `GUIDE_COMMIT_WITHOUT_TRAINING`),
    and returns the non-trainable values that call gave back; `train_step` returns them in
    the new state. Changed for a softmax classifier with integer labels; like the guide's
    first loop, it leaves out the model's regularization losses.
    """
    import jax

    check_jax("guide_train_step")
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    kwargs = _guide_kwargs(training)

    def compute_loss_and_updates(trainable_variables, non_trainable_variables, x, y):
        y_pred, non_trainable_variables = model.stateless_call(
            trainable_variables, non_trainable_variables, x, **kwargs)
        loss = loss_fn(y, y_pred)
        return loss, non_trainable_variables

    grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)

    @jax.jit
    def train_step(state, data):
        trainable_variables, non_trainable_variables, optimizer_variables = state
        x, y = data
        (loss, non_trainable_variables), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y)
        trainable_variables, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        return loss, (trainable_variables, non_trainable_variables, optimizer_variables)

    return train_step


def run_guide_loop(model: keras.Model, optimizer: keras.optimizers.Optimizer, train_step: Callable,
                   x, y, carry: bool | str = True, batch_size: int = 32, seed: int = 0) -> keras.Model:
    """One epoch of the guide's loop over shuffled batches of (x, y), then the state assigned back.

    Where it differs from the guide: the state holds the variables' values, not the variables
    (the guide's form fails in a jitted function on the JAX installed here: see
    tests/test_loops.py), and the batches are a NumPy permutation of (x, y) cut in order,
    not the guide's `tf.data` `shuffle(1024).batch(32)`. The optimizer's own variables are
    left as they were, as in the guide, so the next run with the same optimizer starts from
    a fresh optimizer state.

    Args:
        train_step: from `guide_train_step` for the same model and optimizer.
        carry: True passes each step the state the step before returned, as the guide does;
            False keeps passing the starting non-trainable values, a mistake the guide does
            not make; a string carries only the variables whose path ends with it (e.g.
            `SEED_STATE`) and restarts the others.
    """
    if not isinstance(carry, bool) and not any(v.path.endswith(carry) for v in model.non_trainable_variables):
        raise ValueError(f"carry={carry!r} matches none of the model's non-trainable variables "
                         f"{[v.path for v in model.non_trainable_variables]}; pass True, False or a path ending.")
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    state = tuple([v.value for v in group] for group in
                  (model.trainable_variables, model.non_trainable_variables, optimizer.variables))
    start = state[1]
    carried = [carry is True or (carry is not False and v.path.endswith(carry)) for v in model.non_trainable_variables]
    order = np.random.default_rng(seed).permutation(len(x))
    for first in range(0, len(x), batch_size):
        batch = order[first:first + batch_size]
        _, state = train_step(state, (x[batch], y[batch]))
        if not all(carried):
            kept = [new if keep else old for new, old, keep in zip(state[1], start, carried)]
            state = (state[0], kept, state[2])
    trainable_variables, non_trainable_variables, _ = state
    for variable, value in zip(model.trainable_variables, trainable_variables):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, non_trainable_variables):
        variable.assign(value)
    return model


def variables_as_state_error(model: keras.Model, x, y) -> str | None:
    """What one jitted guide step says to the guide's own state, the variables themselves:
    None when it accepts them, else the error's type and first line."""
    check_jax("variables_as_state_error")
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    optimizer.build(model.trainable_variables)
    step = guide_train_step(model, optimizer, training=True)
    try:
        step((model.trainable_variables, model.non_trainable_variables, optimizer.variables), (x, y))
    except (TypeError, ValueError) as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


def train_as_guide(model: keras.Model, x, y, training: bool, carry: bool | str = True,
                   batch_size: int = 32, seed: int = 0) -> keras.Model:
    """Train `model` for one epoch with the keras.io JAX guide's loop and its Adam(1e-3)."""
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    step = guide_train_step(model, optimizer, training)
    return run_guide_loop(model, optimizer, step, x, y, carry, batch_size, seed)


def _tapped(model: keras.Model, layer: str) -> keras.Model:
    """`model`'s graph with the input and output of `layer` as extra outputs, sharing its variables."""
    tap = model.get_layer(layer)
    return keras.Model(model.input, [model.output, tap.input, tap.output])


def uses_batch_statistics(model: keras.Model, x, training: bool, layer: str = "batchnorm") -> bool:
    """Whether BatchNormalization `layer` normalises `x` with the batch's statistics in the guide's call.

    One forward pass as the guide's loop makes it (`stateless_call`, with training=True or
    without), the layer's output compared with its formula under either statistics.
    """
    tapped = _tapped(model, layer)
    (_, inputs, outputs), _ = tapped.stateless_call(
        [v.value for v in tapped.trainable_variables], [v.value for v in tapped.non_trainable_variables],
        x, **_guide_kwargs(training))
    inputs, outputs = np.asarray(inputs), np.asarray(outputs)
    bn = model.get_layer(layer)
    return used_batch_statistics(inputs, outputs, batchnorm_state(bn), bn.epsilon, layer)


def changed_by_call(model: keras.Model, x, training: bool) -> list[str]:
    """The paths of the non-trainable variables whose values one call as the guide makes it changes.

    `model.stateless_call` with training=True or without it, on `x`; its returned
    non-trainable values compared with the ones it was given.
    """
    given = [v.value for v in model.non_trainable_variables]
    _, returned = model.stateless_call([v.value for v in model.trainable_variables], given, x,
                                       **_guide_kwargs(training))
    return [variable.path for variable, old, new in zip(model.non_trainable_variables, given, returned)
            if not np.array_equal(np.asarray(old), np.asarray(new))]


def dropout_masks(model: keras.Model, x, carry: bool, steps: int = 2, layer: str = "dropout") -> list[np.ndarray]:
    """Which units Dropout `layer` zeroes in `steps` consecutive training-mode `stateless_call`s.

    Each call gets the non-trainable values the call before returned (`carry`), or the
    starting ones again. On JAX they hold Dropout's seed-generator state.

    Returns:
        One boolean array per call, True where a non-zero input was dropped.
    """
    check_jax("dropout_masks")
    tapped = _tapped(model, layer)
    trainable = [v.value for v in tapped.trainable_variables]
    start = non_trainable = [v.value for v in tapped.non_trainable_variables]
    masks = []
    for _ in range(steps):
        (_, inputs, outputs), returned = tapped.stateless_call(trainable, non_trainable, x, training=True)
        masks.append((np.asarray(outputs) == 0) & (np.asarray(inputs) != 0))
        non_trainable = returned if carry else start
    return masks


def guide_loop_outcomes(seed: int = 0, loops: tuple[str, ...] = tuple(GUIDE_LOOPS),
                        train_size: int | None = None) -> dict[str, dict]:
    """Train the seed model from `seed`'s initial weights with each of `loops` (names from `GUIDE_LOOPS`).

    One epoch on the offline digits (the first `train_size` of them), batch size 32.

    Returns:
        Per loop: `moving statistics updated` and `batch statistics used` (1.0 or 0.0, for
        `utils.over_seeds`), and the `test accuracy` in inference mode.
    """
    check_jax("guide_loop_outcomes")
    (x_train, y_train), (x_test, y_test) = load_mnist_subset()
    x_train, y_train = x_train[:train_size], y_train[:train_size]
    seed_everything(seed)
    initial = [v.numpy() for v in build_functional().variables]
    model, optimizer = _guide_setup()
    outcomes = {}
    for name in loops:
        training, carry = GUIDE_LOOPS[name]
        for variable, value in zip(model.variables, initial):
            variable.assign(value)
        batch_statistics = uses_batch_statistics(model, x_train[:32], training)
        before = moving_statistics(model)
        run_guide_loop(model, optimizer, _GUIDE_STEPS[training], x_train, y_train, carry, seed=seed)
        # One batch: predict's default of 32 costs a step per batch, a fifth of this function's time.
        accuracy = float((model.predict(x_test, batch_size=len(x_test), verbose=0).argmax(axis=1) == y_test).mean())
        outcomes[name] = {"moving statistics updated": float(bool(moved_layers(model, before))),
                          "batch statistics used": float(batch_statistics), "test accuracy": accuracy}
    return outcomes


# One seed model, optimizer and pair of jitted steps for every call of `guide_loop_outcomes`:
# a new model would trace and compile the steps again, the slowest part of a short run.
_GUIDE_STEPS: dict[bool, Callable] = {}
_GUIDE_SETUP: list = []


def _guide_setup() -> tuple[keras.Model, keras.optimizers.Optimizer]:
    """The shared seed model and Adam(1e-3) of `guide_loop_outcomes`, with both jitted steps."""

    if not _GUIDE_SETUP:
        model, optimizer = build_functional(), keras.optimizers.Adam(learning_rate=1e-3)
        optimizer.build(model.trainable_variables)
        _GUIDE_SETUP.extend([model, optimizer])
        _GUIDE_STEPS.update({training: guide_train_step(model, optimizer, training) for training in (False, True)})
    return _GUIDE_SETUP[0], _GUIDE_SETUP[1]
