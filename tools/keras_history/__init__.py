"""The history of `training` in Keras: every release measured, and one command to add the next.

    python -m tools.keras_history [--versions 3.0 3.15 nightly tf-keras] [--backends jax]

reads the package index, and for tf-keras (Keras 2), the newest patch of each Keras 3 minor and the
newest keras-nightly builds (once, in ~/.cache/training-lab/keras-history/) an environment per
backend, runs `python -m utils.probes` there on TensorFlow and on JAX, and replaces that release's
rows in `data/keras_history.json`, keeping every other release's. A release that cannot be
installed or run is recorded with its error. `utils.history` reads the file.
"""
