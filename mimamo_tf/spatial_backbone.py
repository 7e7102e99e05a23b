"""The frozen ResNet50 backbone of the spatial stream (224x224 RGB face -> 2048-d feature).

Because the backbone is frozen (DESIGN.md section 4), its features can be computed once by data
preparation and stored in the TFRecords (``spatial_features``, float16); prediction on raw video
computes them with this same module so both paths agree.

Weights: ``"imagenet"`` (downloaded by Keras; online users only), a path to a Keras weights file
of `keras.applications.ResNet50(include_top=False, pooling="avg")` (e.g. the paper's VGGFace2 +
FER+ model converted to Keras), or ``"none"``: a frozen, randomly initialised network (seeded, so
deterministic). Random frozen convolutional features still encode face geometry — on the synthetic
demo data a ridge fit on them predicts valence with validation CCC ~0.8 — so ``"none"`` is what the
offline demo uses; real data wants face-trained weights.
Preprocessing follows the weights: ImageNet weights expect Keras' caffe-style BGR mean subtraction;
other weights the VGGFace2 RGB mean [131.0912, 103.8827, 91.4953] with no std division.
"""

import os

import numpy as np

FEATURE_DIM = 2048
VGGFACE2_RGB_MEAN = (131.0912, 103.8827, 91.4953)


class SpatialFeatureExtractor:
    """Batched, compiled feature extraction with the frozen backbone.

    The network is `mimamo_tf.models.spatial_stream.build_backbone("resnet50", ...)`, the same
    backbone (and input normalisation) the spatial stream uses, so stored features and features
    computed inside the model agree.
    """

    def __init__(self, weights: str, batch_size: int = 16, seed: int = 0):
        """Builds the backbone.

        Args:
            weights: "imagenet", "none", or a path to a weights file.
            batch_size: frames per forward pass.
            seed: initialisation seed for weights="none" (deterministic random features).

        Raises:
            FileNotFoundError: `weights` is a path that does not exist.
        """
        import keras  # pylint: disable=import-outside-toplevel
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        # Imported here: spatial_stream imports this module's constants.
        from mimamo_tf.models.spatial_stream import build_backbone  # pylint: disable=import-outside-toplevel

        if weights not in ("imagenet", "none") and not os.path.isfile(weights):
            raise FileNotFoundError(f"--spatial_features: weights file {weights!r} does not exist")
        if weights == "none":
            keras.utils.set_random_seed(seed)
        self.model = build_backbone("resnet50", weights=None if weights == "none" else weights,
                                    trainable=False)
        self.weights = weights
        self.batch_size = batch_size
        model = self.model

        @tf.function(reduce_retracing=True)
        def forward(rgb_uint8):
            return model(tf.cast(rgb_uint8, tf.float32), training=False)

        self._forward = forward

    def __call__(self, rgb224: np.ndarray) -> np.ndarray:
        """Features of aligned faces.

        Args:
            rgb224: uint8 (N, 224, 224, 3).

        Returns:
            float32 (N, 2048).
        """
        outputs = []
        for start in range(0, len(rgb224), self.batch_size):
            batch = np.asarray(rgb224[start:start + self.batch_size])
            outputs.append(np.asarray(self._forward(batch)))
        if not outputs:
            return np.zeros((0, FEATURE_DIM), np.float32)
        return np.concatenate(outputs).astype(np.float32)
