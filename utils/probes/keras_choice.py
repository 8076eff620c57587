"""Which Keras the probes measure: the installed Keras 3, or tf-keras (Keras 2).

`python -m utils.probes --legacy` runs the measurement again in a process of its
own with `TRAINING_LAB_KERAS=tf_keras`, where no module loads Keras 3.
"""

import importlib.util
import os

from utils.quiet import import_tensorflow_quietly

# Set to "tf_keras" to measure legacy Keras 2 instead of the installed Keras 3.
KERAS_ENV = "TRAINING_LAB_KERAS"
LEGACY = os.environ.get(KERAS_ENV) == "tf_keras"

# TensorFlow before Keras, so that its start-up lines stay out of a notebook. Keras 3 on JAX
# needs none: the environments `python -m tools.keras_history` builds for JAX have JAX alone.
if LEGACY or importlib.util.find_spec("tensorflow") is not None:
    import_tensorflow_quietly()
    import tensorflow as tf
else:
    tf = None

if LEGACY:
    import tf_keras as keras
else:
    import keras  # noqa: F401
