"""The dataset readers by name: ``--dataset=NAME`` of ``data_prep.prepare``.

A reader registers itself where it is defined, one module of `data_prep.readers` each (the package
imports all of them)::

    @register_reader("affwild2")
    class AffWild2Reader(DatasetReader):
        @staticmethod
        def define_flags(flag_values): ...                 # its options, as absl flags
        @classmethod
        def from_options(cls, data_root, split, options): ...  # built from their values
        def recording_id(self, video_id): ...              # the source recording of an item

``prepare``'s ``--dataset`` (its choices and help) and its reader flags, and the readers it builds,
come from here, so adding a dataset is adding its module (and its test).
"""

from typing import Dict, List

from absl import flags

from data_prep.readers.base import DatasetReader
from mimamo_tf.config import ConfigError

# name -> reader class, in registration order.
READERS: Dict[str, type] = {}


def register_reader(name: str):
    """Class decorator: makes a `DatasetReader` subclass ``--dataset=name`` (and sets its ``name``).

    Raises:
        ValueError: not a `DatasetReader`, or the name is taken.
    """

    def register(reader_class):
        if not (isinstance(reader_class, type) and issubclass(reader_class, DatasetReader)):
            raise ValueError(f"register_reader({name!r}): {reader_class!r} is not a DatasetReader subclass")
        if name in READERS:
            raise ValueError(f"register_reader({name!r}): the name is taken by {READERS[name].__qualname__}")
        reader_class.name = name
        READERS[name] = reader_class
        return reader_class

    return register


def reader_names() -> List[str]:
    """The registered ``--dataset`` names, sorted."""
    return sorted(READERS)


def reader_class(name: str) -> type:
    """The reader registered as ``name``; ``ConfigError`` naming ``--dataset`` when none is."""
    if name not in READERS:
        raise ConfigError(f"--dataset={name!r}; expected one of {reader_names()}")
    return READERS[name]


def define_reader_flags(flag_values) -> None:
    """Defines every registered reader's option flags on ``flag_values``."""
    for reader in READERS.values():
        reader.define_flags(flag_values)


def _declared_flags(reader) -> flags.FlagValues:
    """The reader's flags, defined on a fresh ``FlagValues`` (unparsed: each holds its default)."""
    declared = flags.FlagValues()
    reader.define_flags(declared)
    return declared


def reader_options(name: str, flag_values) -> Dict[str, object]:
    """``{flag name: parsed value}`` of the options of reader ``name`` (``flag_values`` parsed, with
    `define_reader_flags` among its definitions)."""
    return {flag: flag_values[flag].value for flag in _declared_flags(reader_class(name))}


def make_reader(name: str, data_root: str, split: str, **options) -> DatasetReader:
    """Builds reader ``name`` of ``split`` under ``data_root``.

    Args:
        name: a registered ``--dataset`` name.
        data_root, split: the dataset folder and split.
        **options: values of the reader's option flags by flag name (e.g. ``omg_aligned_dir=...``);
            the others take their flag defaults.

    Raises:
        ConfigError: unknown dataset, an option the reader has not, or a layout or option it cannot
            use (naming the flag).
    """
    reader = reader_class(name)
    declared = _declared_flags(reader)
    unknown = sorted(set(options) - set(declared))
    if unknown:
        raise ConfigError(f"--dataset={name} has no option {', '.join('--' + flag for flag in unknown)}; its options: "
                          f"{', '.join('--' + flag for flag in declared) or 'none'}")
    values = {flag: declared[flag].value for flag in declared}
    values.update(options)
    return reader.from_options(data_root, split, values)
