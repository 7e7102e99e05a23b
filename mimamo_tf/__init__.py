"""mimamo_tf: MIMAMO Net (Deng et al., AAAI 2020) in TensorFlow/Keras.

Per-frame valence/arousal from face video with a spatial CNN stream, a temporal CNN stream on phase
differences of a complex steerable pyramid (micro-motion) and a bidirectional GRU (macro-motion).

``import mimamo_tf`` registers the project's Keras classes (layers of ``models`` and ``phase``, the
loss and metric), so ``keras.saving.load_model("runs/x/checkpoints/best.keras")`` works in any
notebook. When the process is one of the project's commands, TensorFlow is first imported with its
C++ start-up lines hidden (see ``cli_startup``); importing the package from anywhere else changes
no logging setting.
"""

__version__ = "0.1.0"

from mimamo_tf import cli_startup as _cli_startup

if _cli_startup.started_as_command():
    _cli_startup.quiet_tensorflow_startup()

# Registration of the Keras classes (``keras.saving.register_keras_serializable``) happens when these
# modules are imported.
from mimamo_tf import losses as _losses  # noqa: E402,F401
from mimamo_tf import metrics as _metrics  # noqa: E402,F401
from mimamo_tf import models as _models  # noqa: E402,F401
from mimamo_tf import phase as _phase  # noqa: E402,F401
