"""Which Keras the probes measure: the installed Keras 3, or tf-keras (Keras 2).

`python -m utils.probes --legacy` runs the measurement again in a process of its
own with `TRAINING_LAB_KERAS=tf_keras`, where no module loads Keras 3.
"""

import os

from utils.quiet import import_tensorflow_quietly

# Set to "tf_keras" to measure legacy Keras 2 instead of the installed Keras 3.
KERAS_ENV = "TRAINING_LAB_KERAS"
LEGACY = os.environ.get(KERAS_ENV) == "tf_keras"

import_tensorflow_quietly()
import tensorflow as tf  # noqa: E402, F401

if LEGACY:
    import tf_keras as keras
else:
    import keras  # noqa: F401
