"""The paper's experiments on any prepared dataset (``python -m mimamo_tf.study``).

Modules: ``cells`` (a study is a list of named cells, each cached as a result JSON: resumable),
``presets`` (``paper`` and ``synthetic`` sizes), ``paper`` (the paper's numbers, Tables 3-5),
``streams`` (Tables 4-5), ``length`` (Table 3), ``illumination`` (Figure 5), ``sensitivity``
(temporal-only nets against the synthetic micro-motion's amplitude), ``speed`` (phase differences vs
optical flow), ``tables`` (Markdown, shared captions), ``figures`` (matplotlib PNGs).

Each study's ``run`` takes an ``ExperimentConfig`` (the base training config) and an output
directory, and writes ``<study>.md``, ``<study>.png`` and ``<study>.json`` there.
"""
