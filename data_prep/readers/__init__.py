"""Dataset readers: list the videos of a split and parse their labels.

`make_reader(name, data_root, split, **options)` builds one; `READERS` lists them.
"""

from data_prep.readers.affwild import AffWildReader
from data_prep.readers.affwild2 import AffWild2Reader
from data_prep.readers.base import (ConfigurationError, DatasetReader, InputError, Labels,
                                    VideoItem, reconcile)
from data_prep.readers.folder import FolderReader
from data_prep.readers.omg import OmgReader
from data_prep.readers.timed_labels import DEFAULT_LABEL_RANGE, DEFAULT_MAX_GAP_SECONDS, parse_label_range

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
        **options: affwild2_source (affwild2), omg_csv, omg_clips_dir and omg_aligned_dir (omg),
            label_range ("LOW,HIGH") and max_label_gap_seconds (folder).

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
    if name == FolderReader.name:
        try:
            label_range = parse_label_range(options.get("label_range") or DEFAULT_LABEL_RANGE)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        gap = options.get("max_label_gap_seconds")
        gap = DEFAULT_MAX_GAP_SECONDS if gap is None else float(gap)
        if not gap > 0:
            raise ConfigurationError(f"--max_label_gap_seconds must be > 0; got {gap}")
        return FolderReader(data_root, split, max_label_gap_seconds=gap, label_range=label_range)
    return READERS[name](data_root, split)


__all__ = ["READERS", "make_reader", "ConfigurationError", "DatasetReader", "InputError", "Labels",
           "VideoItem", "reconcile", "AffWildReader", "AffWild2Reader", "OmgReader", "FolderReader"]
