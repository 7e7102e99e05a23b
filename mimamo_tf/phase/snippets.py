"""Per-frame snippets: for every frame, the maps of the ``length`` frame pairs centred on it."""

import keras
import numpy as np
from keras import ops

SOURCES = ("pairs", "frames")
DATA_FORMATS = ("channels_last", "channels_first")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def snippet_source_indices(num_frames, length=12, source="pairs"):
    """Which per-pair (or per-frame) map fills each slot of each frame's snippet (NumPy twin).

    Frame ``t``'s snippet spans frames ``t - length//2 .. t - length//2 + length``, indices clamped
    to the video. With ``source="pairs"``, slot ``k`` holds the map of pair ``(f_k, f_k + 1)``; a slot
    whose two clamped frames coincide (beyond the video's ends) holds zeros, the phase difference of
    a frame with itself, marked by index ``num_frames - 1`` (one past the last pair). With
    ``source="frames"``, slot ``k`` holds the map of frame ``f_{k+1}``, the later frame of the pair.

    Returns:
        int array ``(num_frames, length)``.
    """
    _check_choice("source", source, SOURCES)
    first = np.arange(num_frames)[:, None] - length // 2 + np.arange(length)[None, :]
    earlier = np.clip(first, 0, num_frames - 1)
    later = np.clip(first + 1, 0, num_frames - 1)
    if source == "frames":
        return later
    return np.where(later > earlier, earlier, num_frames - 1)


@keras.saving.register_keras_serializable(package="mimamo_tf")
class SnippetBuilder(keras.layers.Layer):
    """Turns per-pair maps of a sequence into one multi-channel snippet per frame.

    Snippets are centred on each frame with the video's ends clamped (see
    ``snippet_source_indices``) and channels are orientation-major: ``channel = orientation * length
    + k``. The maps are computed once per pair of the whole sequence; this layer only gathers them.

    To cut a long video into windows without clamping at window borders, give each window
    ``context_frames`` real frames of context on both sides (repeat the first/last frame where the
    video ends: repeated frames give exactly the clamped snippets) and set ``context_frames``; only
    the central frames' snippets are returned.

    Args:
        length: number of maps per snippet (``L``; the paper uses 12 pair differences).
        source: ``"pairs"`` for per-pair inputs ``(batch, T - 1, ...)`` such as phase differences or
            optical flow, ``"frames"`` for per-frame inputs ``(batch, T, ...)`` such as mean-centred
            phase.
        data_format: ``"channels_last"`` returns ``(batch, T, h, w, O * L)`` (what Keras Conv2D on
            CPU expects); ``"channels_first"`` returns ``(batch, T, O * L, h, w)``.
        context_frames: frames at each end of the input that are context only.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        maps: float tensor ``(batch, P, O, h, w)``: ``P = T - 1`` pairs or ``P = T`` frames.

    Returns:
        Snippets of the ``T - 2 * context_frames`` central frames, laid out as ``data_format`` says.

    Example:
    >>> diffs = np.random.rand(1, 9, 2, 24, 24).astype("float32")  # 10 frames
    >>> tuple(SnippetBuilder(length=12)(diffs).shape)
    (1, 10, 24, 24, 24)
    """

    def __init__(
        self, length=12, source="pairs", data_format="channels_last", context_frames=0, **kwargs
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        _check_choice("source", source, SOURCES)
        _check_choice("data_format", data_format, DATA_FORMATS)
        if int(length) < 1 or int(context_frames) < 0:
            raise ValueError(f"need length >= 1, context_frames >= 0; got {length}, {context_frames}")
        self.length = int(length)
        self.source = source
        self.data_format = data_format
        self.context_frames = int(context_frames)

    def build(self, input_shape):
        if len(input_shape) != 5:
            raise ValueError(
                f"SnippetBuilder '{self.name}' expects maps of shape (batch, P, orientations, h, w) "
                f"with P = T - 1 pairs or T frames; got shape {tuple(input_shape)}"
            )
        self.built = True

    def call(self, maps):
        # Slot k of frame t reads item t - L//2 + k (+1 for per-frame maps) of the sequence, clamped.
        # After padding the sequence at both ends that is item t + k of the padded sequence, i.e. a
        # sliding window of L items along time.
        half = self.length // 2
        if self.source == "pairs":
            # Slots beyond the video's ends are differences of a clamped frame with itself: zeros.
            # (Summing the first slice keeps a zero map even for a single frame, where P = 0.)
            zeros = ops.zeros_like(ops.sum(maps[:, :1], axis=1, keepdims=True))
            front = ops.repeat(zeros, half, axis=1)
            back = ops.repeat(zeros, self.length - half, axis=1)
            offset = 0
        else:
            front = ops.repeat(maps[:, :1], half, axis=1)
            back = ops.repeat(maps[:, -1:], self.length - half, axis=1)
            offset = 1
        padded = ops.concatenate([front, maps, back], axis=1)
        # The windows of the output frames (all but the context frames at each end).
        padded = padded[:, self.context_frames + offset : ops.shape(padded)[1] - self.context_frames]
        if self.data_format == "channels_first":
            count = ops.shape(padded)[1] - self.length + 1
            # (batch, T', O, L, h, w): every slot is a whole h x w block, so stacking copies fast.
            slots = [padded[:, k : k + count] for k in range(self.length)]
            snippets = ops.stack(slots, axis=3)
            shape = ops.shape(snippets)
            return ops.reshape(snippets, (-1, shape[1], shape[2] * self.length, shape[4], shape[5]))
        # Channels last: a depthwise convolution along time with one-hot taps (tap k -> output
        # channel o * L + k) writes the orientation-major snippets in one pass; stacking L slices on
        # the last axis instead copies element by element and is ~7x slower on CPU.
        padded = ops.transpose(padded, (0, 1, 3, 4, 2))  # (batch, P', h, w, O); small, per pair
        shape = ops.shape(padded)
        flat = ops.reshape(padded, (shape[0], shape[1], shape[2] * shape[3], shape[4]))
        snippets = ops.depthwise_conv(flat, self._one_hot_taps(shape[4]), padding="valid")
        out = ops.shape(snippets)
        return ops.reshape(snippets, (out[0], out[1], shape[2], shape[3], out[3]))

    def _one_hot_taps(self, channels):
        """Depthwise kernel ``(L, 1, O, L)`` with ``kernel[k, 0, o, k] = 1``."""
        taps = np.zeros((self.length, 1, channels, self.length), dtype=self.compute_dtype)
        taps[np.arange(self.length), 0, :, np.arange(self.length)] = 1.0
        return taps

    def compute_output_shape(self, input_shape):
        batch, steps, orientations, h, w = input_shape
        frames = None
        if steps is not None:
            frames = steps + (1 if self.source == "pairs" else 0) - 2 * self.context_frames
        channels = orientations * self.length
        if self.data_format == "channels_last":
            return (batch, frames, h, w, channels)
        return (batch, frames, channels, h, w)

    def get_config(self):
        config = super().get_config()
        config.update(
            length=self.length,
            source=self.source,
            data_format=self.data_format,
            context_frames=self.context_frames,
        )
        return config
