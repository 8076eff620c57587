"""A training step written by hand, the one `fit` runs, on TensorFlow or JAX."""

from collections.abc import Callable

import keras

from utils.backends import check_backend


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
