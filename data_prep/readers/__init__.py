"""Dataset readers: list the videos of a split and parse their labels.

`make_reader(name, data_root, split, **options)` builds one; `READERS` lists them.
"""

from data_prep.readers.affwild import AffWildReader
from data_prep.readers.affwild2 import AffWild2Reader
from data_prep.readers.base import (ConfigurationError, DatasetReader, InputError, Labels,
                                    VideoItem, reconcile)
from data_prep.readers.folder import FolderReader
from data_prep.readers.omg import OmgReader

READERS = {
    AffWildReader.name: AffWildReader,
    AffWild2Reader.name: AffWild2Reader,
    OmgReader.name: OmgReader,
    FolderReader.name: FolderReader,
}


def make_reader(name: str, data_root: str, split: str, **options) -> DatasetReader:
    """Builds the reader `name` with its options (unused options of other readers are ignored).

    Args:
        name: one of `READERS`.
        data_root: dataset folder.
        split: split name.
        **options: affwild2_source (affwild2), omg_csv, omg_clips_dir and omg_aligned_dir (omg).

    Raises:
        ConfigurationError: unknown dataset, or a layout the reader cannot use.
    """
    if name not in READERS:
        raise ConfigurationError(f"--dataset={name!r}; expected one of {sorted(READERS)}")
    if name == AffWild2Reader.name:
        return AffWild2Reader(data_root, split, source=options.get("affwild2_source") or "video")
    if name == OmgReader.name:
        return OmgReader(data_root, split, csv_path=options.get("omg_csv") or None,
                         clips_dir=options.get("omg_clips_dir") or None,
                         aligned_dir=options.get("omg_aligned_dir") or None)
    return READERS[name](data_root, split)


__all__ = ["READERS", "make_reader", "ConfigurationError", "DatasetReader", "InputError", "Labels",
           "VideoItem", "reconcile", "AffWildReader", "AffWild2Reader", "OmgReader", "FolderReader"]
