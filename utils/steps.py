"""A training step written by hand, the one `fit` runs, on TensorFlow or JAX."""

from collections.abc import Callable

import keras
import numpy as np

from utils.backends import check_backend
from utils.models import build_functional


def training_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                  loss: Callable, training: bool | None, compiled: bool = True) -> Callable:
    """A function that runs one training step of `model` on `(x, y)` and returns its outputs.

    The step `fit` runs, written out: the loss of `model(x, training=training)`
    plus the model's regularization losses, its gradients with respect to the
    trainable variables applied by `optimizer`, and the non-trainable variables
    (BatchNormalization's moving statistics, random-seed states) left as the
    call left them. Only `training` is yours to choose.

    Args:
        loss: `loss(y, outputs)`, a scalar.
        compiled: trace the step once (`tf.function`, `jax.jit`) rather than run it eagerly.
    """
    if check_backend("training_step") == "tensorflow":
        return _tensorflow_step(model, optimizer, loss, training, compiled)
    return _jax_step(model, optimizer, loss, training, compiled)


def _tensorflow_step(model, optimizer, loss, training, compiled):
    import tensorflow as tf

    def step(x, y):
        with tf.GradientTape() as tape:
            outputs = model(x, training=training)
            value = loss(y, outputs) + sum(model.losses)
        if model.trainable_variables:
            gradients = tape.gradient(value, model.trainable_variables)
            optimizer.apply(gradients, model.trainable_variables)
        return outputs

    return tf.function(step) if compiled else step


def _jax_step(model, optimizer, loss, training, compiled):
    import jax

    def compute(trainable, non_trainable, x, y):
        outputs, non_trainable, losses = model.stateless_call(
            trainable, non_trainable, x, training=training, return_losses=True)
        return loss(y, outputs) + sum(losses), (outputs, non_trainable)

    def stateless(trainable, non_trainable, optimizer_variables, x, y):
        (_, (outputs, non_trainable)), gradients = jax.value_and_grad(compute, has_aux=True)(
            trainable, non_trainable, x, y)
        if trainable:
            trainable, optimizer_variables = optimizer.stateless_apply(
                optimizer_variables, gradients, trainable)
        return outputs, trainable, non_trainable, optimizer_variables

    stateless = jax.jit(stateless) if compiled else stateless

    def step(x, y):
        if model.trainable_variables and not optimizer.built:
            optimizer.build(model.trainable_variables)
        variables = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
        outputs, *values = stateless(*([v.value for v in group] for group in variables), x, y)
        # Written back after every step, so that the model is current between steps.
        for group, new in zip(variables, values):
            for variable, value in zip(group, new):
                variable.assign(value)
        return outputs

    return step


# The variants of an overridden `train_step`, by what the step does with `training` and
# with the non-trainable values (BatchNormalization's moving statistics) the call returns.
GUIDE_STEP = "training=True, as the guide writes it"
NO_TRAINING_STEP = "training not passed"
STALE_STATE_STEP = "training=True, old non-trainable values returned"
# TensorFlow's step changes the variables in place: it has no state to return.
STEP_VARIANTS = {
    "tensorflow": (GUIDE_STEP, NO_TRAINING_STEP),
    "jax": (GUIDE_STEP, NO_TRAINING_STEP, STALE_STATE_STEP),
}


class TensorFlowStepModel(keras.Model):
    """The seed model with `train_step` as keras.io's TensorFlow guide overrides it."""

    # The training value the step passes: the guide's True, or None as if forgotten.
    step_training = True

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=self.step_training)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {metric.name: metric.result() for metric in self.metrics}


class JaxStepModel(keras.Model):
    """The seed model with `train_step` as keras.io's JAX guide overrides it."""

    # The training value the step passes: the guide's True, or None as if forgotten.
    step_training = True
    # False returns the non-trainable values the step received, as if the new ones were dropped.
    returns_state = True

    def compute_loss_and_updates(self, trainable, non_trainable, metrics, x, y, training=False):
        y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x, training=training)
        loss, (trainable, non_trainable, metrics) = self.stateless_compute_loss(
            trainable, non_trainable, metrics, x=x, y=y, y_pred=y_pred, training=training)
        return loss, (y_pred, non_trainable, metrics)

    def train_step(self, state, data):
        import jax

        trainable, old_non_trainable, optimizer_variables, metrics = state
        x, y = data
        gradient_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable, metrics)), gradients = gradient_fn(
            trainable, old_non_trainable, metrics, x, y, training=self.step_training)
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, gradients, trainable)
        new_metrics, logs = [], {}
        for metric in self.metrics:
            own = metrics[len(new_metrics):len(new_metrics) + len(metric.variables)]
            if metric.name == "loss":
                own = metric.stateless_update_state(own, loss)
            else:
                own = metric.stateless_update_state(own, y, y_pred)
            logs[metric.name] = metric.stateless_result(own)
            new_metrics += own
        if not self.returns_state:
            non_trainable = old_non_trainable
        return logs, (trainable, non_trainable, optimizer_variables, new_metrics)


def overridden_step_model(variant: str) -> keras.Model:
    """The seed model, compiled, with `train_step` overridden as the backend's keras.io guide does.

    Args:
        variant: `GUIDE_STEP`, `NO_TRAINING_STEP`, or (on JAX, where the step returns
            the model's state) `STALE_STATE_STEP`.
    """
    backend = check_backend("overridden_step_model")
    variants = STEP_VARIANTS[backend]
    if variant not in variants:
        raise ValueError(f"Unknown train_step variant {variant!r} on {backend}; choose from {list(variants)}.")
    seed = build_functional()
    model_class = TensorFlowStepModel if backend == "tensorflow" else JaxStepModel
    model = model_class(seed.inputs, seed.outputs, name=seed.name)
    model.step_training = None if variant == NO_TRAINING_STEP else True
    model.returns_state = variant != STALE_STATE_STEP
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def gradients(model: keras.Model, x, y, training: bool = True) -> dict[str, np.ndarray]:
    """The gradient of the cross-entropy of `model(x, training=training)` against labels `y`, per weight.

    On TensorFlow a call with `training=True` also updates BatchNormalization's
    moving statistics, as any such call does; on JAX they are left as they were.

    Returns:
        Trainable variable path -> its gradient.
    """
    loss = keras.losses.SparseCategoricalCrossentropy()
    if check_backend("gradients") == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=training))
        found = tape.gradient(value, model.trainable_variables)
    else:
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def compute(trainable):
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=training)
            return loss(y, outputs)

        found = jax.grad(compute)([v.value for v in model.trainable_variables])
    return {v.path: keras.ops.convert_to_numpy(g) for v, g in zip(model.trainable_variables, found)}
