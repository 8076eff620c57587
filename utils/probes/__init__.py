"""See which `training` value reaches a layer, and what BN and Dropout then do.

`TrainingProbe` records the `training` value its `call` receives.
`behaviour_matrix()` builds small probe models in several styles, runs each
way of calling a model once, and reports, per run, what a probe received and
what BatchNormalization and Dropout actually did, all measured.

Run `python -m utils.probes` to print the matrix of the installed Keras as
JSON, `python -m utils.probes --legacy` for Keras 2 (tf-keras), or
`python -m utils.probes --backend jax` for Keras 3 on JAX.
"""

from utils.probes.layers import TrainingProbe
from utils.probes.measure import (
    CALL_LABELS,
    CALLS,
    augmentation_before_base,
    behaviour_matrix,
    construction_time_value_wins,
    run_call,
    training_by_call,
)
from utils.probes.scenarios import SCENARIOS
from utils.probes.subprocesses import (
    LEGACY_MISSING,
    backend_behaviour_matrix,
    legacy_available,
    legacy_behaviour_matrix,
)
from utils.probes.tables import matrix_frame, matrix_pivot

__all__ = [
    "CALLS",
    "CALL_LABELS",
    "LEGACY_MISSING",
    "SCENARIOS",
    "TrainingProbe",
    "augmentation_before_base",
    "backend_behaviour_matrix",
    "behaviour_matrix",
    "construction_time_value_wins",
    "legacy_available",
    "legacy_behaviour_matrix",
    "matrix_frame",
    "matrix_pivot",
    "run_call",
    "training_by_call",
]
