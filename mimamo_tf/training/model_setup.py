"""The network of a training run, as the experiment config says: built, initialised (from another
run's checkpoint, ``--init_from``: fine-tuning; from single-stream runs' streams: the paper's
two-stage training) and adapted to the replicas.

Everything here runs inside the distribution strategy's scope, so variables are mirrored.
"""

import hashlib
import os

import keras

from mimamo_tf import config as config_lib
from mimamo_tf import runs
from mimamo_tf.config import ConfigError
from mimamo_tf.models import build_mimamo_net
from mimamo_tf.models.backbone import same_features
from mimamo_tf.models.per_frame import iter_layers
from mimamo_tf.models.precision import dtype_policy

# Sub-models a single-stream checkpoint can hand over to a two-stream model (two-stage training).
_STREAM_SUBMODELS = {"spatial": ("spatial_mlp", "spatial_backbone"), "temporal": ("temporal_stream",)}


def initialise_streams(model, spatial_from=None, temporal_from=None):
    """Copies the stream weights of single-stream ``.keras`` checkpoints into ``model``.

    Raises:
        ConfigError: a checkpoint holds none of the sub-models it should provide.
    """
    targets = {layer.name: layer for layer in iter_layers(model)}
    for path, names in ((spatial_from, _STREAM_SUBMODELS["spatial"]), (temporal_from, _STREAM_SUBMODELS["temporal"])):
        if not path:
            continue
        source = keras.saving.load_model(path, compile=False)
        sources = {layer.name: layer for layer in iter_layers(source)}
        copied = [n for n in names if n in sources and n in targets]
        if not copied:
            raise ConfigError(f"checkpoint {path} has none of the sub-models {names} to initialise from")
        for name in copied:
            targets[name].set_weights(sources[name].get_weights())


def _weight_layout(model):
    """``[(name, shape)]`` of every weight in order. Names are the variables' own (``kernel``,
    ``moving_mean``): layer names carry per-process suffixes (``forward_gru_2``), so the order, the
    kind and the shape of each weight identify the network, not its path."""
    return [(weight.name, tuple(weight.shape)) for weight in model.weights]


def architecture_differences(checkpoint, config):
    """``["--gru_units=128 (this run: 64)", ...]``: the ``ARCHITECTURE_FLAGS`` in which the run of
    ``checkpoint`` (when it belongs to one) differs from ``config``; empty when unknown or none."""
    run_dir = runs.run_of_checkpoint(checkpoint)
    if run_dir is None:
        return []
    try:
        source = runs.read_config(run_dir)
    except (config_lib.ConfigError, runs.RunError):  # an unreadable flags.cfg only costs the hint
        return []
    old, new = config_lib.flag_values_of(source), config_lib.flag_values_of(config)
    images = "images" in (source.model.spatial_input, config.model.spatial_input)
    return [f"--{name}={old[name]} (this run: {new[name]})"
            for name in config_lib.differing_flags(source, config) if name in config_lib.ARCHITECTURE_FLAGS
            # a backbone of images neither run reads: no difference (an unset feature width neither:
            # differing_flags compares data-resolved values only when both are set)
            and not (name == "spatial_backbone" and not images)]


def check_init_features(config, data_features):
    """Refuses ``--init_from`` a run trained on the stored features of another backbone than the
    data's: its spatial stream learnt another feature space, whatever the two widths.

    Args:
        config: the run's config (``config.model.init_from`` set).
        data_features: the spec of the backbone whose features ``--data_dir`` stores
            (``runs.data_features``), or None when unknown.

    Raises:
        runs.RunError: no checkpoint at ``--init_from``.
        ConfigError: the checkpoint's run was trained on features of another backbone; the message
            names both and the ``data_prep.prepare`` flag that gives the data the run's features.
            Nothing is checked when either backbone is unknown (a ``.keras`` file outside a run,
            data without a manifest, a run on images).
    """
    checkpoint = runs.init_checkpoint(config.model.init_from)
    run_dir = runs.run_of_checkpoint(checkpoint)
    if run_dir is None or not data_features:
        return
    try:
        source = runs.read_config(run_dir)
    except (config_lib.ConfigError, runs.RunError):  # an unreadable flags.cfg: the weights are still compared
        return
    trained = runs.trained_features(source)
    if trained and not same_features(trained, data_features):
        # A two-stream run's temporal stream never saw the features: it can start this run alone.
        temporal = (f", or give --init_temporal_from={checkpoint} instead of --init_from to start only the temporal "
                    "stream from that run") if source.model.uses_temporal and config.model.uses_temporal else ""
        raise ConfigError(
            f"--init_from={config.model.init_from}: run {run_dir} was trained on features of {trained}; the data in "
            f"{config.data.data_dir} holds features of {data_features}: prepare it with --spatial_features={trained} "
            f"(python -m data_prep.prepare){temporal}")


def initialise_from_checkpoint(model, config):
    """Fine-tuning (``--init_from``): copies every weight of the run's checkpoint into ``model``.

    Every weight, BatchNormalization statistics included, is copied; the dropout layers' random
    state is not (it is a variable of the run, seeded by ``--seed``). Call it only for a fresh run:
    a resumed run restores its own state over it.

    Returns:
        the ``.keras`` file the weights came from.

    Raises:
        runs.RunError: no checkpoint at ``config.model.init_from``, or it cannot be read.
        ConfigError: the checkpoint's network is not the configured one (its weights do not fit);
            the message names the first weight that differs and, when the checkpoint's run is
            known, the flags in which the two runs differ.
    """
    source_flag = config.model.init_from
    path = runs.init_checkpoint(source_flag)
    try:
        source = keras.saving.load_model(path, compile=False)
    except Exception as error:  # a damaged file or another program's .keras: say which, not Keras' internals
        raise runs.RunError(f"--init_from={source_flag}: cannot load {path} as a model of this project ({error})") from None
    expected, found = _weight_layout(model), _weight_layout(source)
    if expected != found:
        differing = architecture_differences(path, config)
        differences = f" Its run was trained with {', '.join(differing)}." if differing else ""
        first = next((i for i, (a, b) in enumerate(zip(expected, found)) if a != b), min(len(expected), len(found)))
        here = f"{model.weights[first].path} {expected[first][1]}" if first < len(expected) else "no weight"
        there = f"{found[first][0]} {found[first][1]}" if first < len(found) else "no weight"
        raise ConfigError(
            f"--init_from={source_flag}: the network in {path} is not the configured one, so its weights cannot "
            f"start this run ({len(found)} weights there, {len(expected)} here; weight {first} is {here} here and "
            f"{there} there).{differences} The weights depend on "
            f"{', '.join('--' + name for name in config_lib.ARCHITECTURE_FLAGS)} (the stored features' width is "
            "read from --data_dir's shards); fine-tuning needs the checkpoint's.")
    model.set_weights(source.get_weights())
    return path


def init_record(config, checkpoint):
    """What ``<model_dir>/init_from.json`` records of a fine-tuned run's first weights."""
    with open(checkpoint, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"init_from": os.path.abspath(config.model.init_from), "checkpoint": os.path.abspath(checkpoint),
            "sha256": digest, "run_dir": runs.run_of_checkpoint(checkpoint)}


def synchronize_batch_norm(model):
    """Every ``BatchNormalization`` normalises with global-batch statistics across replicas.

    Without it each replica normalises with its own share of the batch, so N replicas compute a
    different function from one device. ``synchronized`` is the layer's public constructor
    argument; it is read at call time, so setting it before the first step is enough.
    """
    for layer in iter_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def disable_dropout(model):
    """Sets the rate of every dropout layer (SpatialDropout2D included) to 0 (``--nodropout``)."""
    for layer in iter_layers(model):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0


def build_model(config, num_replicas=1, initialise=True):
    """The network of ``config`` (call inside the strategy's scope), initialised and adapted.

    Args:
        config: ``ExperimentConfig``.
        num_replicas: replicas in sync; with more than one, BatchNorm is synchronised when
            ``config.runtime.sync_batch_norm``.
        initialise: start from the checkpoints the config names (``--init_from``,
            ``--init_spatial_from``, ``--init_temporal_from``). False for a run that resumes from its
            own state, which replaces every weight: the sources are then not read at all, so a
            resumed run does not need them any more.
    """
    with dtype_policy(config.runtime.mixed_precision):
        model = build_mimamo_net(config.model)
    if initialise:
        initialise_streams(model, config.model.init_spatial_from, config.model.init_temporal_from)
        if config.model.init_from:
            initialise_from_checkpoint(model, config)
    if config.runtime.sync_batch_norm and num_replicas > 1:
        synchronize_batch_norm(model)
    if not config.model.dropout:
        disable_dropout(model)
    return model
