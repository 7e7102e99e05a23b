"""On-disk data: the TFRecord SequenceExample schema (`schema`), shard naming (`shards`) and the
labels' annotation scale (`label_scale`).

`mimamo_tf.data.schema` is the single source of truth of the format written by
`python -m data_prep.prepare` and read by training, evaluation and inspection.
"""
