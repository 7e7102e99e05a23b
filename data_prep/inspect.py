"""``python -m data_prep.inspect PATH``: counts of prepared shards, and a full parse of each.

PATH is a prepared folder (every ``*.tfrecord`` shard in it) or one shard file. Every record of
every shard is read and decoded with `mimamo_tf.data.schema` (JPEGs included); a shard that does
not parse (truncated or corrupt file, wrong schema) is reported by name and the exit status is 1.
When the folder has a ``manifest.json`` (or sidecars), the counts are checked against it
(``data_prep.shard_inspection``). Exit code (``mimamo_tf.command_line``'s rule): 0 every shard
good, 1 some shards damaged (listed last), 2 no such PATH, no shards in it, or bad flags.
"""

from absl import flags

from data_prep.shard_inspection import inspect_path
from mimamo_tf.command_line import run_command
from mimamo_tf.errors import InputError


def define_flags(flag_values):
    flags.DEFINE_boolean("decode_images", True, "Also decode every JPEG (slower, checks them too).",
                         flag_values=flag_values)


def main(flag_values, arguments):
    if len(arguments) != 1:
        raise InputError("usage: python -m data_prep.inspect PATH (a prepared folder or a shard)")
    return inspect_path(arguments[0], decode_images=flag_values.decode_images)


def run():
    run_command("data_prep.inspect", main, define_flags, __doc__, positional=True)


if __name__ == "__main__":
    run()
