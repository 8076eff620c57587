"""Several processes: MultiWorkerMirroredStrategy workers on 127.0.0.1, and a JAX process
with several host devices. Each trains `batchnorm_probe` for one step; the reports say what
the moving statistics became."""

import contextlib
import importlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from utils.replicas.batches import DIGITS, WORKER_BATCH, batchnorm_probe, check_workers, worker_features

_ROOT = Path(__file__).resolve().parent.parent.parent
# What each worker reports after its step: the moving statistics as a read returns them, its
# own local copy of them, and how tf.distribute keeps that variable's copies.
_WORKER_FIELDS = ("moving_mean", "moving_variance", "local_moving_mean", "local_moving_variance",
                  "synchronization", "aggregation")


def free_ports(count: int) -> list[int]:
    """`count` TCP ports on 127.0.0.1 that nothing listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _unclaimed_ports(count: int, attempts: int = 5) -> list[int]:
    """`free_ports(count)`, chosen again while another process claims one before it is checked."""
    # A port is free when chosen but the system may hand it to any new connection before the
    # workers bind it; on a busy machine (tests in parallel) that happens now and then.
    for _ in range(attempts - 1):
        ports = free_ports(count)
        try:
            check_ports_free(ports)
            return ports
        except RuntimeError:
            continue
    return free_ports(count)


def check_ports_free(ports: list[int]) -> None:
    """Raise a clear error if one of `ports` on 127.0.0.1 is taken."""
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as error:
                raise RuntimeError(
                    f"Port {port} on 127.0.0.1 is taken (another process listens on it), so "
                    f"worker {ports.index(port)} cannot use it. Pass another --port, or leave "
                    "--port out to use free ports."
                ) from error


def worker_report(workers: int = 2, legacy: bool = False, synchronized: bool = False,
                  timeout: float = 120.0, port: int | None = None) -> dict:
    """Train a `batchnorm_probe` for one step in `workers` processes, under MultiWorkerMirroredStrategy.

    The workers run on 127.0.0.1 with `TF_CONFIG`; worker i trains on `WORKER_BATCH` images
    of `DIGITS[i]`, described by their `quadrant_ink`. Every worker is stopped when the
    measurement ends, fails, times out or is interrupted.

    Args:
        workers: how many worker processes.
        legacy: use tf-keras (Keras 2) in the workers instead of Keras 3.
        synchronized: build BatchNormalization with `synchronized=True`.
        timeout: seconds before the workers are stopped and the report says so.
        port: the first of `workers` consecutive ports to use; free ones by default.

    Returns:
        `workers`, `keras_version`, `synchronized`; `global`: the mean and variance of all
        workers' batches together; `per_worker`: each worker's `digit`, `batch_mean`,
        `batch_variance`, `moving_mean` and `moving_variance` after the step as a read
        returns them, `local_moving_mean` and `local_moving_variance` (its own copy of them),
        and the variable's `synchronization` and `aggregation` in tf.distribute (None where
        training failed); `error`: None, or what failed.
    """
    return worker_reports(workers, legacy, (synchronized,), timeout, port)[0]


def worker_reports(workers: int = 2, legacy: bool = False, modes: tuple[bool, ...] = (False, True),
                   timeout: float = 120.0, port: int | None = None) -> list[dict]:
    """`worker_report` for each `synchronized` value in `modes`, from one start of the workers.

    Starting the worker processes costs far more than the steps, so each worker trains one
    model per mode, one after the other, under the same strategy.
    """
    check_workers(workers)
    if legacy and importlib.util.find_spec("tf_keras") is None:
        raise RuntimeError("tf-keras is not installed, so --legacy cannot run: pip install tf-keras.")
    ports = list(range(port, port + workers)) if port is not None else _unclaimed_ports(workers)
    check_ports_free(ports)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
                   **({"TRAINING_LAB_KERAS": "tf_keras"} if legacy else {})}
    command = [sys.executable, "-m", "utils.replicas", "--workers", str(workers), "--modes", json.dumps(modes)]
    command += ["--legacy"] if legacy else []
    batches = worker_features(workers)
    results, error = _run_all(
        [command + ["--worker", str(index), "--features", json.dumps(batch.tolist())]
         for index, batch in enumerate(batches)],
        [{**environment, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
         for index in range(workers)],
        timeout)
    versions = {result["keras_version"] for result in results if result}
    keras_version = versions.pop() if len(versions) == 1 else None
    reports = []
    for mode, synchronized in enumerate(modes):
        overall, shares = _statistics(batches)
        runs = [result["runs"][mode] if result else {} for result in results]
        for share, run in zip(shares, runs):
            share.update({key: run.get(key) for key in _WORKER_FIELDS})
        reports.append({"workers": workers, "keras_version": keras_version,
                        "synchronized": synchronized, "global": overall, "per_worker": shares,
                        "error": error or next((run["error"] for run in runs if run.get("error")), None)})
    return reports


def _statistics(batches: list[np.ndarray]) -> tuple[dict, list[dict]]:
    """The mean and variance of all the batches together, and of each one (`DIGITS[i]` for batch i)."""
    everything = np.concatenate(batches)
    overall = {"mean": everything.mean(axis=0).tolist(), "variance": everything.var(axis=0).tolist()}
    return overall, [{"digit": DIGITS[index], "batch_mean": batch.mean(axis=0).tolist(),
                      "batch_variance": batch.var(axis=0).tolist()} for index, batch in enumerate(batches)]


def _run_all(commands: list[list[str]], environments: list[dict], timeout: float) -> tuple[list, str | None]:
    """Run the processes together; each prints one JSON line. Stop them all on any way out.

    Returns:
        Each process's JSON result (None where it gave none), and what went wrong, if anything.
    """
    processes = []
    try:
        for command, environment in zip(commands, environments):
            # A session of its own: a Ctrl-C in the terminal reaches this process only,
            # which then stops every worker itself.
            processes.append(subprocess.Popen(command, cwd=_ROOT, env=environment, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, start_new_session=True))
        deadline = time.monotonic() + timeout
        outputs = []
        for process in processes:
            try:
                outputs.append(process.communicate(timeout=max(deadline - time.monotonic(), 0.1)))
            except subprocess.TimeoutExpired:
                return [None] * len(processes), (
                    f"Timed out after {timeout:g} s: the workers had not finished, so they were stopped. "
                    "A worker waits for all the others, so one that cannot start (a port, a crash) "
                    "keeps the rest waiting; try again with a longer --timeout on a busy machine.")
    finally:
        _stop(processes)
    results, error = [], None
    for index, (process, (stdout, stderr)) in enumerate(zip(processes, outputs)):
        lines = stdout.strip().splitlines()
        if process.returncode != 0 or not lines:
            results.append(None)
            error = error or f"Worker {index} exited with code {process.returncode}: {stderr.strip()[-1500:]}"
        else:
            results.append(json.loads(lines[-1]))
    return results, error


def _stop(processes: list[subprocess.Popen]) -> None:
    """Stop every process (and anything it started) that is still running, and reap it."""
    for process in processes:
        if process.poll() is None:
            # It may end between the check and the signal.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    for process in processes:
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def short_error(error: BaseException) -> str:
    """The error's type and message, with the values it prints (whole tensors) cut out."""
    message = re.sub(r"\{.*\}", "{...}", str(error), flags=re.DOTALL)
    return f"{type(error).__name__}: {' '.join(message.split())[:400]}"


def run_worker(index: int, workers: int, features: np.ndarray, legacy: bool, modes: list[bool]) -> dict:
    """One worker's part of `worker_reports`, in a process of its own with `TF_CONFIG` set."""
    import tensorflow as tf

    keras_module = importlib.import_module("tf_keras" if legacy else "keras")
    labels = np.full(len(features), DIGITS[index])
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    # Each worker reads its own batch; nothing is split between workers.
    def dataset(context):
        size = context.get_per_replica_batch_size(WORKER_BATCH * workers)
        return tf.data.Dataset.from_tensor_slices((features, labels)).batch(size)

    runs = []
    for synchronized in modes:
        try:
            with strategy.scope():
                model, batchnorm = batchnorm_probe(keras_module, synchronized, features.shape[1:])
            model.fit(strategy.distribute_datasets_from_function(dataset), epochs=1, steps_per_epoch=1, verbose=0)
            # Every worker reads in the same order: a read of a variable synchronised on read
            # is a collective operation that all the workers take part in.
            run = {"moving_mean": np.asarray(batchnorm.moving_mean).tolist(),
                   "moving_variance": np.asarray(batchnorm.moving_variance).tolist(), "error": None}
            for name, variable in (("mean", batchnorm.moving_mean), ("variance", batchnorm.moving_variance)):
                variable = variable if legacy else variable.value
                # This worker's own copy (its only replica's), read without combining it with the others'.
                run[f"local_moving_{name}"] = np.asarray(strategy.experimental_local_results(variable)[0]).tolist()
                run["synchronization"] = variable.synchronization.name
                run["aggregation"] = variable.aggregation.name
            runs.append(run)
        except Exception as error:
            runs.append({"error": f"fit under MultiWorkerMirroredStrategy: {short_error(error)}"})
    return {"index": index, "keras_version": keras_module.__version__, "runs": runs}


def data_parallel_report(devices: int = 2, timeout: float = 120.0) -> dict:
    """Train a `batchnorm_probe` for one step on JAX, with `keras.distribution.DataParallel`.

    Runs in a process of its own, started with `devices` host devices
    (`XLA_FLAGS=--xla_force_host_platform_device_count`): a process fixes its devices and
    its Keras backend once. Device i's share of the batch is `WORKER_BATCH` images of `DIGITS[i]`.

    Returns:
        `devices`, `keras_version`; `global` and `per_device` (each share's `digit`,
        `batch_mean`, `batch_variance`) as in `worker_report`; `moving_mean` and
        `moving_variance` after the step; `batch_layout`: the device-mesh axis each axis
        of the input batch is sharded along (None: not sharded), and `mesh_axes`, the mesh's
        axis names; `synchronized`: what `synchronized=True` does on JAX; `error`: None, or what failed.
    """
    check_workers(devices)
    if importlib.util.find_spec("jax") is None:
        raise RuntimeError('JAX is not installed, so this cannot run: pip install "jax[cpu]".')
    environment = {**os.environ, "KERAS_BACKEND": "jax",
                   "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    batches = worker_features(devices)
    command = [sys.executable, "-m", "utils.replicas", "--jax-device-run", "--workers", str(devices),
               "--features", json.dumps(np.concatenate(batches).tolist())]
    (result,), error = _run_all([command], [environment], timeout)
    result = result or {}
    overall, shares = _statistics(batches)
    return {"devices": devices, "keras_version": result.get("keras_version"), "global": overall,
            "per_device": shares, "moving_mean": result.get("moving_mean"),
            "batch_layout": result.get("batch_layout"), "mesh_axes": result.get("mesh_axes"),
            "moving_variance": result.get("moving_variance"), "synchronized": result.get("synchronized"),
            "error": error or result.get("error")}


def run_data_parallel(devices: int, features: np.ndarray) -> dict:
    """`data_parallel_report`'s measurement, in the process it starts."""
    import keras

    found = keras.distribution.list_devices("cpu")
    if len(found) != devices:
        return {"keras_version": keras.__version__,
                "error": f"JAX sees {len(found)} CPU devices, not {devices}: XLA_FLAGS was set too late."}
    distribution = keras.distribution.DataParallel(devices=found)
    keras.distribution.set_distribution(distribution)
    # How the input batch is laid out over the devices: its first (batch) axis sharded.
    layout = distribution.get_data_layout(features.shape)
    labels = np.repeat(DIGITS[:devices], WORKER_BATCH)
    model, batchnorm = batchnorm_probe(keras, False, features.shape[1:])
    model.fit(features, labels, batch_size=len(features), epochs=1, shuffle=False, verbose=0)
    try:
        keras.layers.BatchNormalization(synchronized=True)
        synchronized = "accepted"
    except ValueError as error:
        synchronized = short_error(error)
    return {"keras_version": keras.__version__, "synchronized": synchronized, "error": None,
            "batch_layout": [axis for axis in layout.axes], "mesh_axes": list(distribution.device_mesh.axis_names),
            "moving_mean": keras.ops.convert_to_numpy(batchnorm.moving_mean).tolist(),
            "moving_variance": keras.ops.convert_to_numpy(batchnorm.moving_variance).tolist()}
