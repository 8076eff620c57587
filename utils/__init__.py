"""Helpers shared by the notebooks of the Keras training-modes lab."""

from utils.quiet import import_tensorflow_quietly

# First, so that no TensorFlow start-up line ends up in a notebook's output.
import_tensorflow_quietly()

from utils.bn import (  # noqa: E402
    BatchNormRecorder,
    batch_statistics,
    batchnorm_layers,
    batchnorm_reference,
)
from utils.data import load_mnist, load_mnist_subset  # noqa: E402
from utils.figures import plot_behaviour_matrix  # noqa: E402
from utils.models import (  # noqa: E402
    SEED_SPEC,
    SeedModel,
    build_functional,
    build_sequential,
    build_subclassed,
    seed_layers,
)
from utils.probes import (  # noqa: E402
    CALLS,
    SCENARIOS,
    TrainingProbe,
    behaviour_matrix,
    construction_time_value_wins,
    legacy_available,
    legacy_behaviour_matrix,
    matrix_frame,
    matrix_pivot,
    run_call,
    training_by_call,
)
from utils.session import seed_everything, versions  # noqa: E402
from utils.widgets import matrix_explorer  # noqa: E402

__all__ = [
    "BatchNormRecorder",
    "CALLS",
    "SCENARIOS",
    "SEED_SPEC",
    "SeedModel",
    "TrainingProbe",
    "batch_statistics",
    "batchnorm_layers",
    "batchnorm_reference",
    "behaviour_matrix",
    "build_functional",
    "build_sequential",
    "build_subclassed",
    "construction_time_value_wins",
    "legacy_available",
    "legacy_behaviour_matrix",
    "load_mnist",
    "load_mnist_subset",
    "matrix_explorer",
    "matrix_frame",
    "matrix_pivot",
    "plot_behaviour_matrix",
    "run_call",
    "seed_everything",
    "seed_layers",
    "training_by_call",
    "versions",
]
