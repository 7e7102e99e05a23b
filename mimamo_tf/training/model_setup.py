"""The network and optimizer of a training run, as the experiment config says.

Everything here runs inside the distribution strategy's scope, so variables are mirrored.
"""

import keras

from mimamo_tf.config import ConfigError
from mimamo_tf.models import build_mimamo_net
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


def build_model(config, num_replicas=1):
    """The network of ``config`` (call inside the strategy's scope), initialised and adapted.

    Args:
        config: ``ExperimentConfig``.
        num_replicas: replicas in sync; with more than one, BatchNorm is synchronised when
            ``config.runtime.sync_batch_norm``.
    """
    with dtype_policy(config.runtime.mixed_precision):
        model = build_mimamo_net(config.model)
    initialise_streams(model, config.model.init_spatial_from, config.model.init_temporal_from)
    if config.runtime.sync_batch_norm and num_replicas > 1:
        synchronize_batch_norm(model)
    if not config.model.dropout:
        disable_dropout(model)
    return model
