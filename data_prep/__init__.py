"""Data preparation for mimamo_tf: dataset readers, TFRecord shard writer, synthetic data.

CLIs: ``python -m data_prep.prepare``, ``python -m data_prep.inspect``,
``python -m data_prep.synthetic``. This package may import `mimamo_tf`; never the reverse.
"""
