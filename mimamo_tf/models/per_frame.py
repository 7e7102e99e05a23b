"""``PerFrame``: apply a per-snippet network to every time step of a batch of sequences."""

import keras
from keras import ops


def iter_layers(layer):
    """Every layer inside ``layer``, depth first, including models nested in ``PerFrame`` (Keras'
    own ``layers`` lists stop at a wrapper layer)."""
    children = list(getattr(layer, "layers", []))
    if isinstance(layer, PerFrame):
        children.append(layer.inner)
    for child in children:
        yield child
        yield from iter_layers(child)


def _is_shape_list(shape):
    """True for a list of shapes; a single shape may itself be a list after a JSON round trip."""
    return isinstance(shape, (list, tuple)) and len(shape) > 0 and isinstance(shape[0], (list, tuple))


@keras.saving.register_keras_serializable(package="mimamo_tf")
class PerFrame(keras.layers.Layer):
    """Folds time into the batch, applies ``inner`` and unfolds: ``(B, T, ...) -> (B, T, features)``.

    Like ``keras.layers.TimeDistributed`` but for inner models with several inputs (the temporal
    stream takes two pyramid scales).

    Args:
        inner: a layer or model mapping ``(N, ...)`` inputs (one or a list) to ``(N, features)``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: a tensor or list of tensors ``(B, T, ...)`` with the same ``B`` and ``T``.
        training: passed to ``inner``.
    """

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def build(self, input_shape):
        many = _is_shape_list(input_shape)
        folded = [(None,) + tuple(s[2:]) for s in (input_shape if many else [input_shape])]
        if not self.inner.built:
            self.inner.build(folded if many else folded[0])
        self.built = True

    def call(self, inputs, training=None):
        many = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if many else [inputs]
        shape = ops.shape(tensors[0])
        folded = [ops.reshape(t, (-1,) + self._frame_shape(t)) for t in tensors]
        out = self.inner(folded if many else folded[0], training=training)
        return ops.reshape(out, (shape[0], shape[1]) + tuple(out.shape[1:]))

    @staticmethod
    def _frame_shape(tensor):
        """Per-frame shape; dynamic where the static shape is unknown."""
        dynamic = ops.shape(tensor)
        return tuple(d if d is not None else dynamic[i + 2] for i, d in enumerate(tensor.shape[2:]))

    def compute_output_shape(self, input_shape):
        many = _is_shape_list(input_shape)
        shapes = input_shape if many else [input_shape]
        folded = [(None,) + tuple(s[2:]) for s in shapes]
        out = self.inner.compute_output_shape(folded if many else folded[0])
        return (shapes[0][0], shapes[0][1]) + tuple(out[1:])

    def get_config(self):
        config = super().get_config()
        config["inner"] = keras.saving.serialize_keras_object(self.inner)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)
