"""BatchNormalization across replicas: several CPU replicas in one process, several worker
processes on one machine, and JAX's data parallelism."""

from utils.replicas.batches import (
    DIGITS,
    WORKER_BATCH,
    batchnorm_probe,
    digit_batch,
    matching,
    quadrant_ink,
    worker_features,
)
from utils.replicas.mirrored import (
    ReplicaTraining,
    mirrored_report,
    mirrored_strategy,
    replica_statistics,
    replica_training,
    replica_training_report,
    split_cpu,
    training_pass,
    with_synchronized_batchnorm,
)
from utils.replicas.workers import data_parallel_report, free_ports, short_error, worker_report, worker_reports

__all__ = [
    "batchnorm_probe",
    "data_parallel_report",
    "digit_batch",
    "DIGITS",
    "free_ports",
    "matching",
    "mirrored_report",
    "mirrored_strategy",
    "quadrant_ink",
    "replica_statistics",
    "replica_training",
    "replica_training_report",
    "ReplicaTraining",
    "short_error",
    "split_cpu",
    "training_pass",
    "worker_features",
    "worker_report",
    "worker_reports",
    "with_synchronized_batchnorm",
    "WORKER_BATCH",
]
