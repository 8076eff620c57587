"""How a batch couples its examples: one example's output, and its gradient, as its batch-mates change.

Every call here is stateless (`model.stateless_call`): the moving statistics, and Dropout's
random state, are the same before and after, so two calls differ only in what they are given.
"""

import keras
import numpy as np

from utils.backends import check_backend


def _state(model: keras.Model) -> tuple[list, list]:
    """The values of `model`'s trainable and non-trainable variables, for `stateless_call`."""
    return [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]


def output_in_batch(model: keras.Model, image: np.ndarray, batch_mates: np.ndarray, training: bool) -> np.ndarray:
    """`model`'s output for `image` when it is called in one batch with `batch_mates` (the image first).

    Args:
        image: one example, without a batch axis.
        batch_mates: the other examples of the batch, with a batch axis (may be empty).
        training: the mode of the call.
    """
    image = np.asarray(image, dtype="float32")
    batch_mates = np.asarray(batch_mates, dtype="float32").reshape((-1, *image.shape))
    trainable, non_trainable = _state(model)
    outputs, _ = model.stateless_call(trainable, non_trainable, np.concatenate([image[None], batch_mates]),
                                      training=training)
    return keras.ops.convert_to_numpy(outputs[0])


def cross_gradient(model: keras.Model, batch: np.ndarray, source: int, target: int, training: bool) -> float:
    """How much example `source` of `batch` moves example `target`'s output: the largest |gradient|.

    The output is `target`'s probability of the digit it predicts; the gradient is taken
    with respect to every pixel of example `source`.

    Returns:
        The largest absolute value of that gradient (0.0: `source` cannot move `target`).
    """
    batch = np.asarray(batch, dtype="float32")
    for name, index in (("source", source), ("target", target)):
        if not 0 <= index < len(batch):
            raise ValueError(f"{name}={index} is not an example of this batch of {len(batch)}; "
                             f"pass an index from 0 to {len(batch) - 1}.")
    trainable, non_trainable = _state(model)
    outputs, _ = model.stateless_call(trainable, non_trainable, batch, training=training)
    digit = int(np.argmax(keras.ops.convert_to_numpy(outputs[target])))

    def probability(images):
        outputs, _ = model.stateless_call(trainable, non_trainable, images, training=training)
        return outputs[target, digit]

    # Each backend's own gradient: Keras has none that works on both.
    if check_backend("cross_gradient") == "tensorflow":
        import tensorflow as tf

        images = tf.constant(batch)
        with tf.GradientTape() as tape:
            tape.watch(images)
            value = probability(images)
        gradient = tape.gradient(value, images)
    else:
        import jax

        gradient = jax.grad(probability)(batch)
    return float(np.abs(keras.ops.convert_to_numpy(gradient)[source]).max())
