"""``python -m mimamo_tf.train --flagfile=configs/affwild.cfg [--flag=value ...]``: train MIMAMO Net.

Flags after ``--flagfile`` override it. Writes to ``--model_dir``: ``flags.cfg`` (the resolved flags;
``--flagfile=<model_dir>/flags.cfg`` repeats the run), ``checkpoints/best.keras`` (best validation
mean CCC) and ``checkpoints/last.keras``, ``history.json``, TensorBoard logs in ``logs/`` (loss,
CCC per output, learning rate) and ``backup/`` (resumes a killed run: the same command continues
from the last finished epoch).

Distribution: ``MirroredStrategy`` over the local devices, or ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` is set; then only the chief writes to ``--model_dir`` (other workers write to a
private temporary directory).
"""

import json
import os
import sys
import tempfile

import keras
import tensorflow as tf
from absl import app, flags, logging

FLAGS = flags.FLAGS

# Data.
flags.DEFINE_string("data_dir", None, "Directory of TFRecord shards written by data_prep.prepare.")
flags.DEFINE_string("train_split", "train", "Split whose shards train the model.")
flags.DEFINE_string("eval_split", "validation", "Split for validation; ignored with --num_folds.")
flags.DEFINE_integer("num_folds", 0, "K-fold cross-validation by video over --train_split (0: off).")
flags.DEFINE_integer("fold", 0, "Which fold validates when --num_folds > 0 (0-based).")
flags.DEFINE_enum("label_level", "frame", ["frame", "video"], "Frame labels (Aff-Wild) or utterance labels (OMG).")
flags.DEFINE_integer("window", 64, "Frames per training/evaluation window (utterance samples at video level).")
flags.DEFINE_integer("stride", 32, "Stride of training windows.")
flags.DEFINE_integer("batch_size", 8, "Global batch size in windows.")
# Model.
flags.DEFINE_enum("streams", "both", ["both", "spatial", "temporal"], "Which streams.")
flags.DEFINE_enum("temporal_input", "phase_difference", ["phase_difference", "phase", "optical_flow"], "Temporal stream input.")
flags.DEFINE_integer("snippet_length", 12, "Phase differences per snippet.")
flags.DEFINE_enum("spatial_input", "features", ["features", "images"], "Stored backbone features or face images.")
flags.DEFINE_enum("spatial_backbone", "resnet50", ["resnet50", "small"], "Backbone for --spatial_input=images.")
flags.DEFINE_string("backbone_weights", None, "ResNet50 weights: 'imagenet' or a weights file path.")
flags.DEFINE_bool("recurrent", True, "BiGRU over time (False: per-frame linear head, stream pretraining).")
flags.DEFINE_integer("gru_layers", 2, "Stacked BiGRU layers.")
flags.DEFINE_integer("gru_units", 128, "GRU units per direction.")
flags.DEFINE_bool(
    "dropout", True,
    "Dropout layers active in training. False turns every one off, e.g. to check that a distributed "
    "run reproduces a one-device run (dropout masks are drawn per replica).")
flags.DEFINE_bool(
    "sync_batch_norm", True,
    "With several replicas, BatchNormalization normalises with the statistics of the global batch, "
    "as one device would; False uses each replica's own share (one small all-reduce less per layer).")
flags.DEFINE_string("init_spatial_from", None, "A .keras checkpoint whose spatial stream initialises ours.")
flags.DEFINE_string("init_temporal_from", None, "A .keras checkpoint whose temporal stream initialises ours.")
# Optimisation.
flags.DEFINE_integer("epochs", 25, "Maximum epochs.")
flags.DEFINE_integer("steps_per_epoch", 0, "Batches per epoch (0: one pass over the training windows).")
flags.DEFINE_integer("validation_steps", 0, "Validation batches (0: all).")
flags.DEFINE_float("learning_rate", 1e-3, "Initial SGD learning rate.")
flags.DEFINE_float("momentum", 0.9, "SGD momentum.")
flags.DEFINE_float("weight_decay", 5e-4, "Weight decay (Keras' decoupled form).")
flags.DEFINE_list("lr_decay_epochs", ["10", "20"], "Epochs at which the learning rate is multiplied by --lr_decay.")
flags.DEFINE_float("lr_decay", 0.1, "Step-schedule factor.")
flags.DEFINE_integer("patience", 5, "Early stopping patience in epochs on validation mean CCC (0: off).")
flags.DEFINE_integer("seed", 0, "Random seed.")
# Output.
flags.DEFINE_string("model_dir", None, "Where checkpoints, logs and flags are written.")

CHECKPOINTS = "checkpoints"


class ConfigError(ValueError):
    """The flags cannot describe a valid run."""


def _strategy():
    _patch_keras_fit_for_tf_distribute()
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def _patch_keras_fit_for_tf_distribute():
    """Two fixes to Keras 3's TensorFlow trainer (checked on Keras 3.15) for training under a strategy.

    1. Before training under a strategy, ``fit`` builds metrics and optimizer from one batch pulled
       from a throwaway iterator over the training data. That iterator keeps prefetching in the
       background and shares the shuffle's seed generator with the real one, so the order of the
       training windows depended on thread timing; under MultiWorkerMirroredStrategy the workers
       then no longer split one common stream (some windows were seen twice, others not at all).
       Only shapes and dtypes matter for that build, so we build from the dataset's element spec
       and no extra iterator is created. (Pulling the batch also fails outright under the
       collective strategy, keras-team/keras#20585.)
    2. Under MultiWorkerMirroredStrategy it averages the per-step logs with
       ``reduce("MEAN", v, axis=0)``, which fails for scalar logs (every loss and metric,
       keras-team/keras#20585): scalars are averaged over replicas with ``axis=None``.

    Nothing else in ``fit`` changes.
    """
    try:
        from keras.src import tree
        from keras.src.backend.tensorflow import trainer as tf_trainer

        original = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
        tf_trainer.reduce_per_replica, tf_trainer._collective_all_reduce_multi_worker  # noqa: B018
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"training under tf.distribute needs two fixes written for Keras 3.15's trainer, "
            f"which this Keras ({keras.__version__}) does not have: {error}"
        ) from error
    if getattr(original, "_mimamo_patched", False):
        return

    def symbolic_build_from_element_spec(self, iterator=None, data_batch=None):
        get_tf_dataset = getattr(getattr(iterator, "data_adapter", None), "get_tf_dataset", None)
        if self._distribute_strategy is None or get_tf_dataset is None:
            return original(self, iterator=iterator, data_batch=data_batch)
        # The build turns every element into a symbolic tensor of its shape and dtype: a
        # TensorSpec has both.
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=get_tf_dataset().element_spec)

    original_reduce = tf_trainer.reduce_per_replica

    def reduce_scalars_over_replicas(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not tf_trainer._collective_all_reduce_multi_worker(strategy):
            return original_reduce(values, strategy, reduction)

        def reduce(value):
            local = strategy.experimental_local_results(value)[0] if isinstance(value, tf.distribute.DistributedValues) else value
            if local.shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original_reduce(value, strategy, reduction)

        return tree.map_structure(reduce, values)

    symbolic_build_from_element_spec._mimamo_patched = True
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build_from_element_spec
    tf_trainer.reduce_per_replica = reduce_scalars_over_replicas


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not os.environ.get("TF_CONFIG"):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())


def worker_output_dir(model_dir, task_type, task_id):
    """Private output directory of a non-chief worker; stable across restarts of that worker so it
    finds its own backup (``hash()`` would differ per process)."""
    import zlib

    tag = f"{zlib.crc32(os.path.abspath(model_dir).encode()):08x}_{task_type}{task_id}"
    return os.path.join(tempfile.gettempdir(), f"mimamo_tf_worker_{tag}")


def _writable_dir(strategy, model_dir):
    """The chief writes to ``model_dir``; other workers to their private directory."""
    if _is_chief(strategy):
        return model_dir
    resolver = strategy.cluster_resolver
    return worker_output_dir(model_dir, resolver.task_type, resolver.task_id)


def model_config_from_flags():
    from mimamo_tf.models import MimamoConfig

    try:
        return MimamoConfig(
            streams=FLAGS.streams, temporal_input=FLAGS.temporal_input, snippet_length=FLAGS.snippet_length,
            spatial_input=FLAGS.spatial_input, spatial_backbone=FLAGS.spatial_backbone,
            backbone_weights=FLAGS.backbone_weights, recurrent=FLAGS.recurrent,
            gru_units=FLAGS.gru_units, gru_layers=FLAGS.gru_layers, label_level=FLAGS.label_level,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from error


def pipeline_config_from_flags(model_config):
    from mimamo_tf.data.pipeline import PipelineConfig

    return PipelineConfig(
        window=FLAGS.window, stride=FLAGS.stride, batch_size=FLAGS.batch_size,
        context=FLAGS.snippet_length // 2 if model_config.uses_temporal else 0,
        temporal_input=FLAGS.temporal_input if model_config.uses_temporal else None,
        snippet_length=FLAGS.snippet_length,
        spatial_input=FLAGS.spatial_input if model_config.uses_spatial else None,
        label_level=FLAGS.label_level, seed=FLAGS.seed,
    )


def check_flags():
    """Fails fast on flag combinations that cannot work, naming the flags."""
    if not FLAGS.data_dir:
        raise ConfigError("--data_dir is required")
    if not FLAGS.model_dir:
        raise ConfigError("--model_dir is required")
    if FLAGS.num_folds < 0 or (FLAGS.num_folds and not 0 <= FLAGS.fold < FLAGS.num_folds):
        raise ConfigError(f"--fold must be in [0, --num_folds={FLAGS.num_folds}), got {FLAGS.fold}")
    if FLAGS.num_folds == 1:
        raise ConfigError("--num_folds=1 leaves no training data; use 0 (off) or >= 2")
    if FLAGS.init_spatial_from and FLAGS.streams == "temporal":
        raise ConfigError("--init_spatial_from needs a spatial stream (--streams=both or spatial)")
    if FLAGS.init_temporal_from and FLAGS.streams == "spatial":
        raise ConfigError("--init_temporal_from needs a temporal stream (--streams=both or temporal)")
    for path_flag in ("init_spatial_from", "init_temporal_from"):
        path = getattr(FLAGS, path_flag)
        if path and not os.path.isfile(path):
            raise ConfigError(f"--{path_flag}: checkpoint {path!r} does not exist")
    if FLAGS.spatial_input == "features" and FLAGS.backbone_weights:
        raise ConfigError("--backbone_weights applies to --spatial_input=images; stored features were computed at prepare time")
    try:
        decay = [int(e) for e in FLAGS.lr_decay_epochs]
    except ValueError as error:
        raise ConfigError(f"--lr_decay_epochs must be integers, got {FLAGS.lr_decay_epochs}") from error
    if FLAGS.batch_size < 1 or FLAGS.window < 1 or FLAGS.stride < 1 or FLAGS.epochs < 1:
        raise ConfigError("--batch_size, --window, --stride and --epochs must be positive")
    return decay


def fold_video_ids(video_ids, num_folds, fold):
    """Deterministic K-fold split by video: ``(train_ids, validation_ids)``.

    Videos of one recording (Aff-Wild2 ``_left``/``_right``) stay in the same fold.
    """
    import zlib

    def group(video_id):
        for suffix in ("_left", "_right"):
            if video_id.endswith(suffix):
                return video_id[: -len(suffix)]
        return video_id

    groups = sorted({group(v) for v in video_ids}, key=lambda g: (zlib.crc32(g.encode()), g))
    if len(groups) < num_folds:
        raise ConfigError(f"--num_folds={num_folds} needs at least that many videos; the data has {len(groups)}")
    held_out = {g for i, g in enumerate(groups) if i % num_folds == fold}
    train = [v for v in video_ids if group(v) not in held_out]
    validation = [v for v in video_ids if group(v) in held_out]
    return train, validation


def initialise_streams(model, spatial_from=None, temporal_from=None):
    """Copies the spatial/temporal stream weights of single-stream checkpoints (two-stage training)."""
    import mimamo_tf.models  # noqa: F401  (registers the custom layers)
    import mimamo_tf.phase  # noqa: F401

    for path, names in ((spatial_from, ("spatial_mlp", "spatial_backbone")), (temporal_from, ("temporal_stream",))):
        if not path:
            continue
        source = keras.saving.load_model(path, compile=False)
        source_layers = {layer.name: layer for layer in source._flatten_layers(include_self=False)}
        target_layers = {layer.name: layer for layer in model._flatten_layers(include_self=False)}
        copied = [n for n in names if n in source_layers and n in target_layers]
        if not copied:
            raise ConfigError(f"checkpoint {path} has none of the sub-models {names} to initialise from")
        for name in copied:
            target_layers[name].set_weights(source_layers[name].get_weights())
        logging.info("initialised %s from %s", ", ".join(copied), path)


def synchronize_batch_norm(model):
    """Makes every ``BatchNormalization`` of ``model`` use global-batch statistics across replicas.

    Without it each replica normalises with the statistics of its own share of the batch, so a
    run on N replicas computes a different function from the same run on one device (and with small
    per-replica batches, noisier statistics). Keras reads ``synchronized`` at call time, so setting
    it before the first training step is enough; checkpoints record it.
    """
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def disable_dropout(model):
    """Sets the rate of every dropout layer of ``model`` to 0 (``--nodropout``)."""
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Dropout):  # SpatialDropout2D is one too
            layer.rate = 0.0


def _datasets(pipeline_config):
    from mimamo_tf.data import pipeline

    train_files = pipeline.split_shards(FLAGS.data_dir, FLAGS.train_split)
    if FLAGS.num_folds:
        eval_files = train_files
        ids = pipeline.list_video_ids(train_files)
        train_ids, eval_ids = fold_video_ids(ids, FLAGS.num_folds, FLAGS.fold)
    else:
        eval_files = pipeline.split_shards(FLAGS.data_dir, FLAGS.eval_split)
        train_ids = eval_ids = None
    pipeline.check_shards(sorted(set(train_files) | set(eval_files)), pipeline_config)
    train = pipeline.make_dataset(train_files, pipeline_config, training=True, video_ids=train_ids,
                                  repeat=bool(FLAGS.steps_per_epoch))
    evaluation = pipeline.make_dataset(eval_files, pipeline_config, training=False, video_ids=eval_ids)
    return pipeline.to_keras(train, pipeline_config), pipeline.to_keras(evaluation, pipeline_config)


def step_schedule(decay_epochs):
    def schedule(epoch, learning_rate=None):
        return FLAGS.learning_rate * FLAGS.lr_decay ** sum(epoch >= e for e in decay_epochs)

    return schedule


def _save_flags(directory):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "flags.cfg")
    with open(path + ".partial", "w") as handle:
        handle.write("# Resolved flags of this run: python -m mimamo_tf.train --flagfile=" + path + "\n")
        for line in FLAGS.flags_into_string().splitlines():
            if not line.startswith("--flagfile"):
                handle.write(line + "\n")
    os.replace(path + ".partial", path)


class EpochHistory(keras.callbacks.Callback):
    """Writes every epoch's logs to ``history.json`` (atomic rename), keeping a resumed run's past."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.epochs = json.load(open(path)) if os.path.exists(path) else []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs = [e for e in self.epochs if e["epoch"] < epoch]
        self.epochs.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        with open(self.path + ".partial", "w") as handle:
            json.dump(self.epochs, handle, indent=1)
        os.replace(self.path + ".partial", self.path)


def train():
    """Runs training as the flags say; returns the history (list of per-epoch dicts)."""
    from mimamo_tf.losses import MaskedCCCLoss
    from mimamo_tf.metrics import ConcordanceCorrelation
    from mimamo_tf.models import build_mimamo_net

    decay_epochs = check_flags()
    model_config = model_config_from_flags()
    pipeline_config = pipeline_config_from_flags(model_config)
    keras.utils.set_random_seed(FLAGS.seed)
    strategy = _strategy()
    out_dir = _writable_dir(strategy, FLAGS.model_dir)
    os.makedirs(os.path.join(out_dir, CHECKPOINTS), exist_ok=True)
    _save_flags(out_dir)
    train_data, eval_data = _datasets(pipeline_config)
    if os.environ.get("TF_CONFIG"):
        options = tf.data.Options()
        # Every worker reads all shards and keeps its share of the batches: works with any number
        # of shards (file-level sharding needs at least one shard per worker).
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        train_data, eval_data = train_data.with_options(options), eval_data.with_options(options)
    with strategy.scope():
        model = build_mimamo_net(model_config)
        initialise_streams(model, FLAGS.init_spatial_from, FLAGS.init_temporal_from)
        if FLAGS.sync_batch_norm and strategy.num_replicas_in_sync > 1:
            synchronize_batch_norm(model)
        if not FLAGS.dropout:
            disable_dropout(model)
        model.compile(
            optimizer=keras.optimizers.SGD(
                learning_rate=FLAGS.learning_rate, momentum=FLAGS.momentum, weight_decay=FLAGS.weight_decay
            ),
            loss=MaskedCCCLoss(),
            metrics=[ConcordanceCorrelation(o) for o in ("arousal", "valence", "mean")],
        )
    history = EpochHistory(os.path.join(out_dir, "history.json"))
    callbacks = [
        keras.callbacks.LearningRateScheduler(step_schedule(decay_epochs)),
        keras.callbacks.ModelCheckpoint(
            os.path.join(out_dir, CHECKPOINTS, "best.keras"), monitor="val_ccc_mean", mode="max", save_best_only=True
        ),
        keras.callbacks.ModelCheckpoint(os.path.join(out_dir, CHECKPOINTS, "last.keras")),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")),
        history,
    ]
    if FLAGS.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_ccc_mean", mode="max", patience=FLAGS.patience)
        )
    # Last: an epoch counts as done for a restart only once its checkpoints and history are written.
    # A run killed mid-epoch restarts from the last backup and loses at most that epoch.
    callbacks.append(
        keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup"), save_freq="epoch", delete_checkpoint=False)
    )
    model.fit(
        train_data,
        validation_data=eval_data,
        epochs=FLAGS.epochs,
        steps_per_epoch=FLAGS.steps_per_epoch or None,
        validation_steps=FLAGS.validation_steps or None,
        callbacks=callbacks,
        verbose=2,
    )
    return history.epochs


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag")
    try:
        epochs = train()
    except ConfigError as error:
        print(f"mimamo_tf.train: configuration error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # data errors: name the problem, not a traceback
        from mimamo_tf.data.pipeline import DataError

        if isinstance(error, DataError):
            print(f"mimamo_tf.train: data error: {error}", file=sys.stderr)
            return 2
        raise
    if epochs:
        last = epochs[-1]
        print("mimamo_tf.train: finished epoch {} val_ccc_mean={:.4f}".format(
            last["epoch"] + 1, last.get("val_ccc_mean", float("nan"))))
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()
