"""Benchmark implementations behind ``python -m mimamo_tf.bench``."""
