"""The first epochs of a two-stream run on inherited streams: the streams frozen, the rest learning.

A two-stream run whose streams start from single-stream runs (``--init_spatial_from``,
``--init_temporal_from``, ``--two_stage``) begins with fresh fusion layers, a fresh BiGRU and a
fresh head. Trained together from the first step, the large early gradients of those fresh layers
move the streams away from what they learnt alone ("fine-tuning distorts pretrained features",
Kumar et al., ICLR 2022). ``--freeze_streams_epochs=N`` freezes the inherited streams for the first
N epochs (linear probing) and then trains every layer (fine-tuning); ``-1`` keeps them frozen in
every epoch (linear probing only: the streams stay exactly their single-stream nets).

Frozen means the stream computes exactly what it computed in its own run at inference: no
gradient reaches its weights, its BatchNorm layers normalise with their moving statistics (and do
not update them), and its dropout layers are off. Unfrozen after that, the stream's convolution and
dense weights train, but its BatchNorm layers stay in inference mode and its dropout stays off, as
Keras' transfer-learning guide advises for BatchNorm: the fusion layers learnt on the features of
the streams' inference mode, and switching the streams to batch statistics and dropout at the
unfreezing epoch shifts those features under them (measured: validation CCC fell from 0.87/0.91 to
0.42/0.72 in the epoch after the unfreezing, docs/results.md). The optimizer keeps its slots for the
frozen weights (it was built with every weight), so unfreezing needs nothing but new compiled steps.
"""

import keras

from mimamo_tf.config import FROZEN_THROUGHOUT
from mimamo_tf.models.per_frame import iter_layers

# The layer of the two-stream network that holds each stream (``models.mimamo_net``).
STREAM_LAYERS = {"spatial": "spatial_per_frame", "temporal": "temporal_per_frame"}


def inherited_streams(model_config):
    """The streams a run of ``model_config`` starts from single-stream runs' weights, in order."""
    sources = {"spatial": model_config.init_spatial_from, "temporal": model_config.init_temporal_from}
    return tuple(name for name, source in sources.items() if source)


FROZEN, FINE_TUNING, TRAINING = "frozen", "fine-tuning", "training"


def stream_mode(epoch, freeze_epochs):
    """How the inherited streams run in ``epoch`` (0-based): ``FROZEN`` for the first
    ``freeze_epochs`` (every epoch for ``config.FROZEN_THROUGHOUT``), ``FINE_TUNING`` after them,
    ``TRAINING`` (as any layer) when none are frozen."""
    if not freeze_epochs:
        return TRAINING
    if freeze_epochs == FROZEN_THROUGHOUT:
        return FROZEN
    return FROZEN if epoch < freeze_epochs else FINE_TUNING


class StreamFreezer:
    """Puts the named streams of a built two-stream model in a mode (``stream_mode``).

    * ``FROZEN``: not trainable; BatchNorm on its moving statistics; dropout off.
    * ``FINE_TUNING``: the weights train; BatchNorm stays on its moving statistics (its scale,
      offset and statistics stay the parents'); dropout stays off.
    * ``TRAINING``: as built (the mode of a run that freezes nothing; never entered from another).

    Args:
        model: the network (``models.build_mimamo_net``).
        streams: names among ``STREAM_LAYERS`` (``inherited_streams``).

    Call ``set_mode(mode)`` before compiling the steps of an epoch: it returns True when it changed
    something, i.e. when steps compiled before no longer compute what the model now does
    (``trainable`` and dropout rates are read when a step is traced). A resumed run sets the mode
    of the epoch it resumes in, whatever came before.

    Example:
        >>> freezer = StreamFreezer(model, ("spatial", "temporal"))
        >>> if freezer.set_mode(stream_mode(epoch, config.optimization.freeze_streams_epochs)):
        ...     steps = task.build_steps(model, optimizer, strategy)
    """

    def __init__(self, model, streams):
        self.layers = [model.get_layer(STREAM_LAYERS[name]) for name in streams]
        inner = [layer for stream in self.layers for layer in iter_layers(stream)]
        self.dropouts = [layer for layer in inner if isinstance(layer, keras.layers.Dropout)]
        self.batch_norms = [layer for layer in inner if isinstance(layer, keras.layers.BatchNormalization)]
        self.mode = TRAINING

    def set_mode(self, mode):
        """Puts the streams in ``mode``; returns whether anything changed."""
        if mode not in (FROZEN, FINE_TUNING, TRAINING):
            raise ValueError(f"unknown stream mode {mode!r}")
        if mode == self.mode or not self.layers:
            return False
        if mode == TRAINING:
            raise ValueError("streams frozen or fine-tuned in a run are never trained as fresh layers")
        for layer in self.layers:
            layer.trainable = mode == FINE_TUNING
        for layer in self.batch_norms:
            layer.trainable = False
        for layer in self.dropouts:
            layer.rate = 0.0
        self.mode = mode
        return True
