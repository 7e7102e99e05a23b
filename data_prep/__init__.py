"""Data preparation for mimamo_tf: dataset readers, TFRecord shard writer, synthetic data.

Commands (thin modules on `mimamo_tf.command_line`): ``python -m data_prep.prepare``,
``python -m data_prep.inspect``, ``python -m data_prep.synthetic``, ``python -m
data_prep.bench_backbones``. Their libraries: `preparation`, `shard_inspection`,
`synthetic_faces` and `synthetic_datasets`, over `readers/` (one module per dataset, registered
by name), `examples`, `aligned_frames`, `shard_writer` and `manifest`. This package may import
`mimamo_tf`; never the reverse.
"""

# First, before any module of this package imports TensorFlow: when the process is one of the
# commands, importing mimamo_tf imports TensorFlow without its C++ start-up lines (see
# `mimamo_tf.cli_startup`), as for mimamo_tf's own commands.
import mimamo_tf  # noqa: F401
