"""The paper's experiments on any prepared dataset (``python -m mimamo_tf.study``).

Modules: ``cells`` (a study is a list of named cells, each cached as a result JSON: resumable),
``presets`` (``paper`` and ``synthetic`` sizes), ``paper`` (the paper's numbers, Tables 3-5),
``streams`` (Tables 4-5), ``length`` (Table 3), ``illumination`` (Figure 5), ``sensitivity``
(temporal-only nets against the synthetic micro-motion's amplitude), ``speed`` (phase differences vs
optical flow), ``tables`` (Markdown, shared captions), ``figures`` (matplotlib PNGs).

Each study's ``run`` takes an ``ExperimentConfig`` (the base training config) and an output
directory, and writes ``<study>.md``, ``<study>.png`` and ``<study>.json`` there. Each registers
itself with ``registry.register_study``, which is how ``python -m mimamo_tf.study --study=NAME``
finds it: importing this package imports every module in it, so a new study is one new module
here (and its test), nothing else to edit.
"""

import importlib
import pkgutil

# The paper's order (--study's help lists the studies in registration order), then any other module.
_FIRST = ("streams", "length", "illumination", "sensitivity", "speed")
for _name in sorted((m.name for m in pkgutil.iter_modules(__path__)),
                    key=lambda name: (_FIRST.index(name) if name in _FIRST else len(_FIRST), name)):
    importlib.import_module(f"{__name__}.{_name}")
