"""BatchNormalization across replicas: MirroredStrategy in a fresh process, worker processes
through `python -m utils.replicas`, and JAX's DataParallel."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from utils import (
    ReplicaTraining,
    build_functional,
    data_parallel_report,
    free_ports,
    load_mnist_subset,
    matching,
    run_on,
    seed_everything,
    split_cpu,
    training_pass,
    with_synchronized_batchnorm,
    worker_report,
)

ROOT = Path(__file__).resolve().parent.parent


def _worker_processes(port: int) -> list[str]:
    """The command lines of the worker processes still running in the cluster whose first port is `port`.

    Matched by their TF_CONFIG, so that other runs on this machine (a notebook, another test
    session) do not count.
    """
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().decode().split("\0")
            environment = (entry / "environ").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if "utils.replicas" in command and "--worker" in command and f'"127.0.0.1:{port}"' in environment:
            found.append(" ".join(command))
    return found


def _free_pair() -> int:
    """A port on 127.0.0.1 that is free, with the next one free too: the first of two workers' ports."""
    while True:
        port = free_ports(1)[0]
        with socket.socket() as after:
            try:
                after.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue


def _command(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "utils.replicas", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "KERAS_BACKEND": "tensorflow"})


@pytest.fixture(scope="module")
def separate():
    return run_on("tensorflow", "mirrored_report", replicas=2, synchronized=False)


@pytest.fixture(scope="module")
def together():
    return run_on("tensorflow", "mirrored_report", replicas=2, synchronized=True)


@pytest.fixture(scope="module")
def legacy_runs():
    """The command with --legacy, without and with --synchronized: (exit code, report) each."""
    runs = {}
    for synchronized in (False, True):
        port = _free_pair()
        done = _command("--workers", "2", "--legacy", "--port", str(port),
                        *(["--synchronized"] if synchronized else []))
        runs[synchronized] = (done.returncode, json.loads(done.stdout) if done.stdout else done.stderr, port)
    return runs


def test_synchronized_moving_statistics_equal_the_global_batch_statistics(together):
    assert np.abs(np.subtract(together["moving_mean"], together["global"]["mean"])).max() < 1e-5
    assert np.abs(np.subtract(together["moving_variance"], together["global"]["variance"])).max() < 1e-5


def test_synchronized_replicas_normalise_with_the_global_statistics(together):
    assert all(replica["global_statistics_error"] < 1e-5 for replica in together["per_replica"])


def test_unsynchronized_replicas_normalise_with_their_own_share(separate):
    assert all(replica["own_statistics_error"] < 1e-5 for replica in separate["per_replica"])
    assert all(replica["global_statistics_error"] > 1 for replica in separate["per_replica"])


def test_unsynchronized_model_reads_the_first_replicas_batch_statistics(separate):
    first, second = separate["per_replica"]
    assert np.abs(np.subtract(separate["moving_mean"], first["batch_mean"])).max() < 1e-5
    assert np.abs(np.subtract(separate["moving_variance"], first["batch_variance"])).max() < 1e-5
    assert np.abs(np.subtract(separate["moving_mean"], second["batch_mean"])).max() > 0.5


def test_unsynchronized_replicas_each_keep_their_own_batch_statistics(separate):
    for replica in separate["per_replica"]:
        assert np.abs(np.subtract(replica["moving_mean"], replica["batch_mean"])).max() < 1e-5
        assert np.abs(np.subtract(replica["moving_variance"], replica["batch_variance"])).max() < 1e-5


def test_recorder_under_a_strategy_records_the_first_replicas_statistics_when_not_synchronized(separate):
    first = separate["per_replica"][0]
    assert np.abs(np.subtract(separate["recorded_mean"], first["batch_mean"])).max() < 1e-5
    assert np.abs(np.subtract(separate["recorded_variance"], first["batch_variance"])).max() < 1e-5


def test_recorder_under_a_strategy_records_the_global_statistics_when_synchronized(together):
    assert np.abs(np.subtract(together["recorded_mean"], together["global"]["mean"])).max() < 1e-5
    assert np.abs(np.subtract(together["recorded_variance"], together["global"]["variance"])).max() < 1e-5


def test_split_cpu_after_tensorflow_has_computed_says_to_restart():
    tf.constant(1.0) + 1.0
    with pytest.raises(RuntimeError, match="Restart the kernel"):
        split_cpu(3)


def test_mirrored_strategy_on_jax_says_it_needs_tensorflow():
    with pytest.raises(RuntimeError, match="Set KERAS_BACKEND=tensorflow"):
        run_on("jax", "mirrored_strategy")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="synchronized BatchNormalization is TensorFlow's")
def test_with_synchronized_batchnorm_keeps_the_weights_and_synchronizes_every_batchnorm():
    model = build_functional(conv_batchnorm=True)
    copy = with_synchronized_batchnorm(model)
    batchnorms = [layer for layer in copy.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(batchnorms) == 2 and all(layer.synchronized for layer in batchnorms)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), copy.get_weights()))


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="the TensorFlow backend has it")
def test_with_synchronized_batchnorm_on_another_backend_points_to_data_parallel():
    with pytest.raises(RuntimeError, match="DataParallel computes the global batch statistics"):
        with_synchronized_batchnorm(build_functional())


def test_matching_names_the_first_candidate_equal_within_tolerance():
    candidates = {"zeros": np.zeros(3), "ones": np.ones(3), "also ones": np.ones(3)}
    assert matching([1, 1, 1.00001], candidates) == "ones"
    assert matching([2, 2, 2], candidates) == "none of these"


def test_legacy_workers_without_synchronization_hold_the_average_of_their_statistics(legacy_runs):
    code, report, _ = legacy_runs[False]
    assert code == 0 and report["error"] is None, report
    first, second = report["per_worker"]
    for worker in (first, second):
        assert np.abs(np.subtract(worker["moving_mean"], report["global"]["mean"])).max() < 1e-5
        average = np.mean([first["batch_variance"], second["batch_variance"]], axis=0)
        assert np.abs(np.subtract(worker["moving_variance"], average)).max() < 1e-5
    assert (np.array(first["moving_variance"]) < np.array(report["global"]["variance"])).all()


def test_legacy_workers_with_synchronization_hold_the_global_statistics(legacy_runs):
    code, report, _ = legacy_runs[True]
    assert code == 0 and report["error"] is None, report
    for worker in report["per_worker"]:
        assert np.abs(np.subtract(worker["moving_mean"], report["global"]["mean"])).max() < 1e-5
        assert np.abs(np.subtract(worker["moving_variance"], report["global"]["variance"])).max() < 1e-5


def test_the_report_has_every_field_the_command_promises(legacy_runs):
    _, report, _ = legacy_runs[True]
    assert set(report) == {"workers", "keras_version", "synchronized", "global", "per_worker", "error"}
    assert report["workers"] == 2 and report["synchronized"] is True
    assert {"batch_mean", "batch_variance", "moving_mean", "moving_variance", "local_moving_mean",
            "local_moving_variance", "synchronization", "aggregation"} <= set(report["per_worker"][0])


def test_legacy_workers_keep_their_own_copy_and_a_read_returns_the_mean_of_the_copies(legacy_runs):
    _, report, _ = legacy_runs[False]
    first, second = report["per_worker"]
    for worker in (first, second):
        assert (worker["synchronization"], worker["aggregation"]) == ("ON_READ", "MEAN")
        assert np.abs(np.subtract(worker["local_moving_mean"], worker["batch_mean"])).max() < 1e-5
        assert np.abs(np.subtract(worker["local_moving_variance"], worker["batch_variance"])).max() < 1e-5
        copies = np.mean([first["local_moving_mean"], second["local_moving_mean"]], axis=0)
        assert np.abs(np.subtract(worker["moving_mean"], copies)).max() < 1e-5
    assert np.abs(np.subtract(first["local_moving_mean"], second["local_moving_mean"])).max() > 0.01


def test_the_command_leaves_no_worker_process_behind(legacy_runs):
    assert not any(_worker_processes(port) for _, _, port in legacy_runs.values())


def test_keras3_fit_under_multi_worker_strategy_reports_its_failure():
    port = _free_pair()
    report = worker_report(workers=2, port=port)
    assert report["keras_version"] == keras.__version__
    assert report["error"].startswith("fit under MultiWorkerMirroredStrategy"), report["error"]
    assert not _worker_processes(port)


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _command("--workers", "2", "--legacy", "--port", str(port))
    assert done.returncode == 2
    assert f"Port {port} on 127.0.0.1 is taken" in done.stderr and "--port" in done.stderr


def test_a_timeout_stops_every_worker_and_says_so():
    port = _free_pair()
    done = _command("--workers", "2", "--legacy", "--timeout", "1", "--port", str(port))
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"].startswith("Timed out after 1 s")
    assert not _worker_processes(port)


def test_ctrl_c_stops_every_worker():
    port = _free_pair()
    command = subprocess.Popen([sys.executable, "-m", "utils.replicas", "--workers", "2", "--legacy",
                                "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while len(_worker_processes(port)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_worker_processes(port)) == 2, "the workers never started"
    command.send_signal(signal.SIGINT)
    _, stderr = command.communicate(timeout=60)
    assert command.returncode == 130 and "every worker was stopped" in stderr
    assert not _worker_processes(port)


def test_a_worker_count_without_a_digit_each_is_a_clear_error():
    with pytest.raises(ValueError, match="workers must be between 1 and 10"):
        worker_report(workers=11)


@pytest.fixture(scope="module")
def data_parallel():
    return data_parallel_report(devices=2)


def test_data_parallel_on_jax_computes_the_global_batch_statistics(data_parallel):
    report = data_parallel
    assert report["error"] is None, report["error"]
    assert np.abs(np.subtract(report["moving_mean"], report["global"]["mean"])).max() < 1e-5
    assert np.abs(np.subtract(report["moving_variance"], report["global"]["variance"])).max() < 1e-5


def test_data_parallel_on_jax_shards_the_batch_axis_and_nothing_else(data_parallel):
    assert data_parallel["batch_layout"] == [data_parallel["mesh_axes"][0], None]


def test_data_parallel_on_jax_refuses_synchronized_batchnorm(data_parallel):
    assert "only supported with the TensorFlow backend" in data_parallel["synchronized"]


@pytest.fixture(scope="module")
def training_report():
    """The four ways of training, small: 40 training images, batches of 4, seed 0 twice and seed 1."""
    return run_on("tensorflow", "replica_training_report", seeds=[0, 0, 1], train_images=40, test_images=20)


def test_replica_training_runs_once_through_the_same_images_and_counts_its_steps(training_report):
    plan = training_report["plan"]
    assert {run: row["steps"] for run, row in plan.items()} == {
        "one device, batch 4": 10, "one device, batch 2": 20,
        "2 replicas x 2, not synchronized": 10, "2 replicas x 2, synchronized": 10}
    assert {row["images seen"] for row in plan.values()} == {40}
    assert [row["BatchNormalization sees"] for row in plan.values()] == [4, 2, 2, 4]


def test_replica_training_scores_every_run_in_training_mode_at_both_test_batch_sizes(training_report):
    table = pd.DataFrame(training_report["table"])
    # Inference mode, then training mode and the gap at each batch size BatchNormalization saw (2 and 4).
    assert len(table) == 3 * 4 * 5
    wide = table.pivot_table(index=["seed", "method"], columns="metric", values="value", aggfunc="first")
    for size in (2, 4):
        assert np.allclose(wide[f"gap, test batches of {size}"],
                           wide["test accuracy"] - wide[f"training-mode accuracy, test batches of {size}"])
    assert table["value"].between(-1, 1).all()


def test_replica_training_resets_every_run_so_a_seed_repeats_exactly(training_report):
    table = pd.DataFrame(training_report["table"])
    # over_seeds keeps the rows in order: the first 20 are seed 0's first run, the next 20 its repeat.
    first, repeat, other = table.iloc[:20], table.iloc[20:40], table.iloc[40:]
    assert first["value"].tolist() == repeat["value"].tolist()
    assert other["value"].tolist() != first["value"].tolist()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="it trains under a tf.distribute strategy")
def test_replica_training_plan_before_any_run_says_to_run_a_seed_first():
    images, labels = np.zeros((8, 28, 28, 1), "float32"), np.zeros(8, "int64")
    training = ReplicaTraining(tf.distribute.get_strategy(), (images, labels), (images, labels))
    with pytest.raises(RuntimeError, match="call this object with a seed first"):
        training.plan()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="it runs under a tf.distribute strategy")
def test_training_pass_trains_exactly_as_fit_does():
    (images, labels), _ = load_mnist_subset()
    images, labels = images[:40], labels[:40]
    models = []
    for _ in range(2):
        seed_everything(0)
        model = build_functional()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        models.append(model)
    by_fit, by_pass = models
    by_fit.fit(images, labels, batch_size=4, shuffle=False, verbose=0)
    strategy = by_pass.distribute_strategy
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((images, labels)).batch(4))
    training_pass(by_pass)(batches)
    assert int(keras.ops.convert_to_numpy(by_pass.optimizer.iterations)) == 10
    # The same steps; the graphs differ, so float32 rounding may differ in the last digits.
    for fitted, passed in zip(by_fit.get_weights(), by_pass.get_weights()):
        assert np.abs(fitted - passed).max() < 1e-5
