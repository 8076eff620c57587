"""Helpers shared by the notebooks of the Keras training-modes lab.

Every public name is listed once below, under the module that defines it. The package face
is lazy (PEP 562): `import utils` loads no Keras, and a name's module is imported the first
time the name is used, so a worker process loads only what it uses.
"""

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from utils.quiet import import_tensorflow_quietly

_NAMES_BY_MODULE: dict[str, tuple[str, ...]] = {
    "arithmetic": (
        "batch_statistics", "batchnorm_reference", "batchnorm_state", "mean_shift", "used_batch_statistics",
    ),
    "backends": ("BACKENDS", "check_backend", "run_on"),
    "bn": (
        "batchnorm_layers", "BatchNormRecorder", "compare_modes", "keep_moving_statistics", "mean_gap",
        "moved_layers", "moving_statistics", "statistics_shift",
    ),
    "calibration": ("expected_calibration_error", "reliability"),
    "checks.clinic": (
        "check_dropout_in_training", "check_fine_tuning", "check_freeze", "check_mc_model", "check_mc_predict",
        "check_stream_training", "check_train_step", "check_training_mode_loss",
    ),
    "checks.repair": ("check_fold_into_next", "check_recalibration"),
    "checks.report": ("Report",),
    "checks.shift": ("check_adapt_on_copy", "check_recalibrate_on_target"),
    "costs": ("benchmark_results",),
    "coupling": ("cross_gradient", "output_in_batch"),
    "data": ("load_mnist", "load_mnist_subset", "off_centre_batch"),
    "dropout": (
        "confidence_runs", "leak_runs", "least_sure_errors", "mc_predict", "MCDropout", "predictive_entropy",
        "recalibrated_copy", "with_mc_dropout",
    ),
    "experiments.batchnorm": ("small_batch_comparison", "warmup_curve"),
    "experiments.costs": ("LIVE_HEADLESS", "LIVE_SVG", "RECORDER", "recorder_overhead"),
    "experiments.why_batchnorm": (
        "BatchNoise", "learning_rate_sweep", "loss_along_gradient", "smoothness_runs", "WITH_BATCHNORM",
        "WITH_NOISY_BATCHNORM", "WITHOUT_BATCHNORM",
    ),
    "experiments.recalibration": (
        "AS_TRAINED", "DROPOUT_ON", "mc_scores", "RECALIBRATED", "recalibration_curve", "recalibration_over_seeds",
        "recalibration_parts",
    ),
    "experiments.shift": (
        "accuracy", "batch_statistics_method", "CLEAN", "damage", "NO_REPAIR", "normalization_batch_size_report",
        "normalization_batch_sizes",
        "RECALIBRATED_ON_TARGET", "repairs", "shift_models", "target_sizes", "TEST_BATCHES", "TEST_POPULATION",
        "TRAINING_BATCHES",
    ),
    "experiments.steps": ("overridden_step_outcomes",),
    "experiments.transfer": (
        "compare_recipes", "compare_schools", "recipe_run", "recipes_on_sample", "SCHOOL_04", "SCHOOL_FASTAI",
        "SCHOOL_FASTAI_BN_FROZEN", "school_run", "school_runs", "SCHOOLS",
    ),
    "figures.batchnorm": (
        "plot_batch_statistics", "plot_lag", "plot_lag_windows", "plot_momentum", "plot_pixel_statistics",
        "plot_recalibration", "plot_small_batches", "plot_warmup",
    ),
    "figures.behaviour": ("plot_behaviour_matrix", "plot_effects"),
    "figures.history": ("plot_keras_history",),
    "figures.replicas": ("plot_worker_variance",),
    "figures.seeds": ("plot_seeds",),
    "figures.shift": (
        "plot_corruptions", "plot_damage", "plot_normalization_batch_sizes", "plot_repairs", "plot_samples",
        "plot_target_sizes",
    ),
    "figures.training": ("plot_curves", "plot_overhead"),
    "figures.transfer": ("plot_drift", "plot_recipes"),
    "figures.uncertainty": ("plot_mc_uncertainty", "plot_reliability"),
    "figures.why_batchnorm": ("plot_batch_mates", "plot_learning_rates", "plot_smoothness"),
    "freezing": (
        "AFTER_COMPILE", "effects_table", "flags_model", "FREEZES", "next_fit_after_freezing",
        "next_fit_outcomes", "one_step", "STAYS_FROZEN", "STILL_CHANGES",
    ),
    "history": (
        "backend_differences", "history_changes", "load_keras_history", "load_release_status", "measured_releases",
        "release_label", "releases_where", "version_range",
    ),
    "live": ("LivePlot",),
    "loops": (
        "changed_by_call", "dropout_masks", "DROPPED", "FIT", "GUIDE_AFTER", "GUIDE_BEFORE",
        "GUIDE_COMMIT_WITH_TRAINING", "GUIDE_COMMIT_WITHOUT_TRAINING", "guide_loop_outcomes", "GUIDE_LOOPS",
        "guide_train_step", "LOOP_PLAIN", "LOOP_TRAINING_TRUE", "METHODS", "run_guide_loop", "SEED_ONLY",
        "SEED_STATE", "train_and_track", "train_as_guide", "uses_batch_statistics",
        "variables_as_state_error",
    ),
    "models": (
        "build_base", "build_classifier", "build_functional", "build_sequential", "build_subclassed",
        "seed_layers", "SEED_SPEC", "SeedModel", "unfreeze", "WITHOUT_NORMALIZATION",
    ),
    "momentum": (
        "expected_lag", "lag_in_windows", "momentum_sweep", "moving_average", "moving_estimates",
        "training_batch_statistics",
    ),
    "probes": (
        "augmentation_before_base", "backend_behaviour_matrix", "behaviour_matrix", "CALL_LABELS", "CALLS",
        "construction_time_value_wins", "legacy_available", "legacy_behaviour_matrix", "matrix_frame",
        "matrix_pivot", "run_call", "SCENARIOS", "training_by_call", "TrainingProbe",
    ),
    "repair": ("batchnorm_affine", "copy_model", "fold_batchnorm", "inference_scores", "recalibrate_batchnorm"),
    "replicas": (
        "batchnorm_probe", "data_parallel_report", "digit_batch", "DIGITS", "free_ports", "matching",
        "mirrored_report", "mirrored_strategy", "quadrant_ink", "replica_statistics", "replica_training",
        "replica_training_report", "ReplicaTraining", "short_error", "split_cpu", "training_pass",
        "with_synchronized_batchnorm", "WORKER_BATCH", "worker_features", "worker_report", "worker_reports",
    ),
    "shift": ("BatchStatistics", "corrupt", "CORRUPTIONS", "SEVERITIES", "SplitBatchNormalization",
              "with_batch_statistics"),
    "seeds": ("apart", "mean_and_range", "over_seeds", "SEEDS", "spread", "verdict", "winner"),
    "scaling": ("scale_effect", "scaled_copy"),
    "session": ("numeric_path", "onednn_as_without_utils", "seed_everything", "versions"),
    "steps": (
        "gradients", "GUIDE_STEP", "NO_TRAINING_STEP", "overridden_step_model",
        "STALE_STATE_STEP", "STEP_VARIANTS", "training_step",
    ),
    "transfer": (
        "CLASSIC", "fastai_fine_tune", "FEATURES_ONLY", "fine_tune", "InferenceMode", "KEPT_FROZEN",
        "LayerRates", "pretrain", "RECIPES", "sample", "scale_and_offset", "scale_and_offset_change",
        "select_digits", "TRAIN_BN", "train_head", "variance_change", "WRAPPER",
    ),
    "widgets": (
        "batch_mate_choices", "BatchMatesExplorer", "BatchNormExplorer", "FlagsPanel", "matrix_explorer",
        "ShiftExplorer",
    ),
}

_MODULE_OF = {name: module for module, names in _NAMES_BY_MODULE.items() for name in names}

__all__ = sorted(_MODULE_OF, key=str.lower)


def _import(module: str) -> ModuleType:
    """Import `utils.<module>`, TensorFlow first so that no start-up line reaches a notebook."""
    import_tensorflow_quietly()
    return importlib.import_module(f"utils.{module}")


def __getattr__(name: str) -> Any:
    """A public name, or a submodule such as `utils.loops`, imported on first use."""
    if name in _MODULE_OF:
        value = getattr(_import(_MODULE_OF[name]), name)
    elif importlib.util.find_spec(f"utils.{name}") is not None:
        value = _import(name)
    else:
        raise AttributeError(f"module 'utils' has no attribute {name!r}; its public names are in utils.__all__")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, so that tab completion lists them before any is used."""
    return sorted(set(globals()) | set(__all__))
