"""The layers a probe model is made of: one records `training`, one keeps what passed through."""

import numpy as np

from utils.probes.keras_choice import keras, tf

_TRAINING_CODES = {-1.0: None, 0.0: False, 1.0: True}


class TrainingProbe(keras.layers.Layer):
    """A pass-through layer that records the `training` value its `call` receives.

    The value is stored in a variable as the call runs, so it is the value a
    real step used, in eager and in graph mode alike; read it as `received`.
    """

    def build(self, input_shape):
        self._code = self.add_weight(
            name="training_code", shape=(), initializer="zeros", trainable=False
        )
        self._code.assign(-2.0)  # Not called yet.

    def call(self, inputs, training=None):
        if training is None:
            code = -1.0
        elif isinstance(training, bool):
            code = float(training)
        else:  # Keras 2 may pass a symbolic tensor
            code = tf.cast(training, "float32")
        self._code.assign(code)
        return inputs

    @property
    def received(self) -> bool | None:
        """`True`, `False` or `None`: the `training` value of the last call."""
        code = float(np.array(self._code))
        if code not in _TRAINING_CODES:
            raise RuntimeError(f"{self.name} has not been called in a run yet.")
        return _TRAINING_CODES[code]

    def reset(self) -> None:
        """Forget the last recorded value."""
        self._code.assign(-2.0)


class Tap(keras.layers.Layer):
    """A pass-through layer that keeps a copy of the last batch it saw."""

    def build(self, input_shape):
        self.value = self.add_weight(
            name="value", shape=tuple(input_shape), initializer="zeros", trainable=False
        )

    def call(self, inputs):
        self.value.assign(inputs)
        return inputs


