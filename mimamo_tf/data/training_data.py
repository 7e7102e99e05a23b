"""The shards of a training run, found and checked before any training starts.

``TrainingData(config)`` resolves the training and validation shards of an ``ExperimentConfig``
(a split, or K-fold cross-validation by source recording over the training split), checks them
against the pipeline's needs, and, with ``--skip_corrupt_records``, finds how many records of each
damaged shard can be read. It also turns a ``DataLossError`` met mid-run into a ``DataError`` naming the
damaged shard(s).
"""

import sys

import tensorflow as tf

from mimamo_tf.config import ConfigError
from mimamo_tf.data import pipeline, shards
from mimamo_tf.data.folds import fold_video_ids, inner_validation_ids


class TrainingData:
    """The shards of a run, checked before any training starts.

    Attributes:
        train_files, eval_files: shard paths.
        train_ids, eval_ids: video ids of the folds (None without cross-validation): with an inner
            validation fraction, ``eval_ids`` are the inner validation videos taken from the fold's
            training videos; without, the held-out fold's.
        held_out_ids: the held-out fold's video ids (None without cross-validation).
        faceless_train_videos: ids of the training utterances without any face (video-level
            labels; they get loss weight 0 and are left out of training), else empty.
        record_limits: readable records of damaged shards (``--skip_corrupt_records``), or None.
        pipeline_config: the pipeline's view of the experiment config.
    """

    def __init__(self, config):
        data = config.data
        self.data_dir = data.data_dir
        self.pipeline_config = pipeline.pipeline_config(config)
        self.train_files = shards.split_shards(data.data_dir, data.train_split)
        inner = not data.num_folds and data.validation_source == "inner"
        self.eval_files = (self.train_files if data.num_folds or inner
                           else shards.split_shards(data.data_dir, data.eval_split))
        self.all_files = sorted(set(self.train_files) | set(self.eval_files))
        shards.check_shards(self.all_files, self.pipeline_config)
        self.record_limits = None
        if data.skip_corrupt_records:
            self.record_limits = self._limit_damaged_shards()
        self.train_ids = self.eval_ids = self.held_out_ids = None
        if data.num_folds or inner:
            recordings = self._guard(lambda: shards.video_recordings(self.train_files, self.record_limits))
            try:
                self.train_ids, self.eval_ids = self._split_by_recording(recordings, data)
            except ValueError as error:
                raise ConfigError(str(error)) from error
        self.faceless_train_videos = []
        if config.model.label_level == "video":
            faceless = self._guard(lambda: shards.faceless_video_ids(self.train_files, self.record_limits))
            keep = set(self.train_ids) if self.train_ids is not None else None
            self.faceless_train_videos = [v for v in faceless if keep is None or v in keep]

    def _split_by_recording(self, recordings, data):
        """``(train_ids, eval_ids)`` by source recording; sets ``held_out_ids`` with folds.

        With ``--num_folds`` the held-out fold validates, or, with an inner validation fraction, a
        subset of the fold's training recordings; without (``--validation_source=inner``) a subset of
        the training split's recordings, held apart so that the eval split never chooses the
        checkpoint it scores."""
        train_ids = list(recordings)
        if data.num_folds:
            train_ids, self.held_out_ids = fold_video_ids(recordings, data.num_folds, data.fold)
            if not data.inner_validation_fraction:
                return train_ids, self.held_out_ids
        return inner_validation_ids({v: recordings[v] for v in train_ids}, data.inner_validation_fraction)

    def _limit_damaged_shards(self):
        damaged = shards.find_damaged_shards(self.all_files)
        for path, (readable, error) in damaged.items():
            expected = _expected_examples(path)
            lost = f"{expected - readable} of {expected} records" if expected is not None else "the rest of its records"
            print(f"warning: {path} is damaged after record {readable} ({error.splitlines()[0]}); skipping {lost} "
                  "(--skip_corrupt_records)", file=sys.stderr)
        return {path: readable for path, (readable, _) in damaged.items()}

    def damaged_data_error(self, error):
        """A ``DataError`` naming the damaged shard(s) behind a ``DataLossError`` met mid-run."""
        damaged = shards.find_damaged_shards(self.all_files)
        if not damaged:
            return shards.DataError(f"reading the shards in {self.data_dir} failed: {error.message}")
        names = "; ".join(f"{path} (readable up to record {n}: {message.splitlines()[0]})"
                          for path, (n, message) in damaged.items())
        return shards.DataError(
            f"damaged shard: {names}. Check the data with `python -m data_prep.inspect {self.data_dir}` and "
            "re-prepare that shard, or train with --skip_corrupt_records to go on without the unreadable records. "
            "Checkpoints are intact: the same command resumes.")

    def _guard(self, function):
        try:
            return function()
        except tf.errors.DataLossError as error:
            raise self.damaged_data_error(error) from error


def _expected_examples(path):
    try:
        return int(shards.read_sidecar(path)["examples"])
    except (KeyError, TypeError, ValueError):
        return None
