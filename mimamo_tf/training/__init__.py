"""Training as a library: ``train(config)`` runs an ``ExperimentConfig`` under ``tf.distribute``.

Modules: ``distribution`` (strategy, chief), ``inputs`` (per-worker input pipelines, deterministic
per epoch), ``model_setup`` (network, optimizer, mixed precision), ``steps`` (the replica steps),
``state`` (fault-tolerance checkpoints), ``trainer`` (the loop).
"""

from mimamo_tf.training.trainer import Trainer, train

__all__ = ["Trainer", "train"]
