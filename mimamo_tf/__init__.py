"""mimamo_tf: MIMAMO Net (Deng et al., AAAI 2020) in TensorFlow/Keras.

Per-frame valence/arousal from face video with a spatial CNN stream, a temporal CNN stream on phase
differences of a complex steerable pyramid (micro-motion) and a bidirectional GRU (macro-motion).
"""

__version__ = "0.1.0"
