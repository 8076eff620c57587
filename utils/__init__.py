"""Helpers shared by the notebooks of the Keras training-modes lab."""

from utils.quiet import import_tensorflow_quietly

# First, so that no TensorFlow start-up line ends up in a notebook's output.
import_tensorflow_quietly()

from utils.bn import (  # noqa: E402
    BatchNormRecorder,
    batch_statistics,
    batchnorm_layers,
    batchnorm_reference,
    compare_modes,
    keep_moving_statistics,
    mean_gap,
    warmup_curve,
)
from utils.data import load_mnist, load_mnist_subset  # noqa: E402
from utils.dropout import MCDropout, mc_predict, predictive_entropy, with_mc_dropout  # noqa: E402
from utils.figures import (  # noqa: E402
    plot_batch_statistics,
    plot_behaviour_matrix,
    plot_curves,
    plot_drift,
    plot_mc_uncertainty,
    plot_recipes,
    plot_warmup,
)
from utils.live import LivePlot  # noqa: E402
from utils.loops import METHODS, train_and_track  # noqa: E402
from utils.models import (  # noqa: E402
    SEED_SPEC,
    SeedModel,
    build_base,
    build_classifier,
    build_functional,
    build_sequential,
    build_subclassed,
    seed_layers,
    unfreeze,
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
from utils.freezing import (  # noqa: E402
    FREEZES,
    effects_table,
    flags_model,
    frozen_after_compile_still_trains,
    one_step,
)
from utils.transfer import (  # noqa: E402
    RECIPES,
    InferenceMode,
    compare_recipes,
    fine_tune,
    moving_statistics,
    pretrain,
    sample,
    select_digits,
    statistics_shift,
    train_head,
)
from utils.widgets import BatchNormExplorer, FlagsPanel, matrix_explorer  # noqa: E402

__all__ = [
    "BatchNormExplorer",
    "BatchNormRecorder",
    "CALLS",
    "FREEZES",
    "FlagsPanel",
    "InferenceMode",
    "LivePlot",
    "MCDropout",
    "METHODS",
    "RECIPES",
    "SCENARIOS",
    "SEED_SPEC",
    "SeedModel",
    "TrainingProbe",
    "batch_statistics",
    "batchnorm_layers",
    "batchnorm_reference",
    "behaviour_matrix",
    "build_base",
    "build_classifier",
    "build_functional",
    "build_sequential",
    "build_subclassed",
    "compare_modes",
    "compare_recipes",
    "construction_time_value_wins",
    "effects_table",
    "fine_tune",
    "flags_model",
    "frozen_after_compile_still_trains",
    "keep_moving_statistics",
    "legacy_available",
    "legacy_behaviour_matrix",
    "load_mnist",
    "load_mnist_subset",
    "matrix_explorer",
    "matrix_frame",
    "matrix_pivot",
    "mc_predict",
    "mean_gap",
    "moving_statistics",
    "one_step",
    "plot_batch_statistics",
    "plot_behaviour_matrix",
    "plot_curves",
    "plot_drift",
    "plot_mc_uncertainty",
    "plot_recipes",
    "plot_warmup",
    "predictive_entropy",
    "pretrain",
    "run_call",
    "sample",
    "seed_everything",
    "seed_layers",
    "select_digits",
    "statistics_shift",
    "train_and_track",
    "train_head",
    "training_by_call",
    "unfreeze",
    "versions",
    "warmup_curve",
    "with_mc_dropout",
]
