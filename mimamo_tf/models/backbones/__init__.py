"""The built-in spatial backbones, one module each; importing this package registers them.

Each module registers its builder with ``@register_backbone`` (``mimamo_tf.backbone_registry``,
which holds the registry, its lookup and the help built from it). Every module of this package is
imported here, so adding a backbone is adding its module (and its test); a backbone defined
elsewhere (a plugin, a test) only needs its module imported before its name is used.
"""

import importlib
import pkgutil

# Found rather than listed: a new module registers without a line here.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
