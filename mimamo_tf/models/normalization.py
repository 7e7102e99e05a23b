"""The BatchNormalization every MIMAMO Net block uses."""

from keras import layers

# PyTorch's BatchNorm (the authors' framework) updates its running statistics with momentum 0.1,
# i.e. Keras momentum 0.9. Keras' default 0.99 needs hundreds of steps before the moving statistics
# used at inference match the data; on short runs (the demo: ~170 steps) inference outputs were
# wrong even on the training videos.
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(name):
    """``BatchNormalization`` with the PyTorch-equivalent momentum."""
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name)
