"""Which ``tf.distribute`` strategy a run uses, which worker writes, and where the others write."""

import os
import tempfile
import zlib

import tensorflow as tf


def make_strategy():
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes a cluster, else
    ``MirroredStrategy`` over the local devices (one CPU here; every local GPU elsewhere)."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


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
