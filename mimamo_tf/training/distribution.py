"""Which ``tf.distribute`` strategy a run uses, which worker writes, and where the others write."""

import os
import tempfile
import zlib

import tensorflow as tf


# Number of logical CPU devices to split the CPU into and mirror over when there is no GPU (several
# local replicas on one machine without GPUs, e.g. to test multi-device training on a laptop).
CPU_REPLICAS_ENV = "MIMAMO_TF_CPU_REPLICAS"


def split_cpu(replicas):
    """Splits the (first) physical CPU into ``replicas`` logical devices and returns their names.

    Must run before TensorFlow initialises its runtime (before the first op or strategy); if the
    runtime is already up with exactly ``replicas`` logical CPUs, those are returned.

    Raises:
        RuntimeError: the runtime is already initialised with another number of logical CPUs.
    """
    value = replicas
    try:
        replicas = int(value)
    except ValueError:
        replicas = 0
    if replicas < 1:
        raise ValueError(f"{CPU_REPLICAS_ENV} must be a positive number of replicas, got {value!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError as error:  # the runtime is up: keep its devices if they are the ones asked for
        if len(tf.config.list_logical_devices("CPU")) != replicas:
            raise RuntimeError(f"{CPU_REPLICAS_ENV}={replicas} must be set before TensorFlow initialises its "
                               f"devices: {error}") from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def make_strategy(devices=None):
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes a cluster, else
    ``MirroredStrategy`` over the local devices: ``devices`` when given, else
    ``MIMAMO_TF_CPU_REPLICAS`` logical CPUs when that environment variable is set (e.g.
    ``MIMAMO_TF_CPU_REPLICAS=2 python -m mimamo_tf.train ...`` trains on two replicas without a
    GPU), else every local GPU, else every logical CPU (one unless the CPU was split)."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices is None and os.environ.get(CPU_REPLICAS_ENV, "").strip():
        devices = split_cpu(os.environ[CPU_REPLICAS_ENV])
    return tf.distribute.MirroredStrategy(devices)


def is_chief(strategy):
    """True for the process that writes the run's outputs: the chief, or worker 0 without one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not os.environ.get("TF_CONFIG") or resolver.task_type is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)


def worker_output_dir(model_dir, task_type, task_id):
    """Private output directory of a non-chief worker.

    Under ``MultiWorkerMirroredStrategy`` every worker must take part in saving (the variables'
    values are gathered collectively), but only the chief's files are the run's. The directory is
    stable across restarts of the worker (``hash()`` would differ per process).
    """
    tag = f"{zlib.crc32(os.path.abspath(model_dir).encode()):08x}_{task_type}{task_id}"
    return os.path.join(tempfile.gettempdir(), f"mimamo_tf_worker_{tag}")


def writable_dir(strategy, model_dir):
    """The chief writes to ``model_dir``; every other worker to its private directory."""
    if is_chief(strategy):
        return model_dir
    resolver = strategy.cluster_resolver
    return worker_output_dir(model_dir, resolver.task_type, resolver.task_id)
