"""A plain folder of videos without labels (any depth; ids are paths without extension)."""

import os
from typing import List

from data_prep.readers import files
from data_prep.readers.base import DatasetReader, Labels, VideoItem, relative_source


class FolderReader(DatasetReader):
    """Every video file under the data root, unlabelled. Any split name is accepted."""

    name = "folder"
    splits = ()

    def list_items(self) -> List[VideoItem]:
        items = {}
        for path in files.walk_videos(self.data_root):
            relative = relative_source(path, self.data_root)
            video_id = os.path.splitext(relative)[0]
            error = None
            if video_id in items:
                error = f"{path}: another video has the same name without extension " \
                        f"({items[video_id].source})"
                video_id = relative
            items[video_id] = VideoItem(video_id=video_id, dataset=self.name, split=self.split,
                                        source=relative, video_path=path, label_level="none",
                                        listing_error=error)
        return [items[key] for key in sorted(items)]

    def load_labels(self, item: VideoItem) -> Labels:
        return Labels.none()
