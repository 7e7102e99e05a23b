"""The synthetic datasets: `synthetic_faces` videos written in the Aff-Wild2 or the OMG-Emotion
layout, so that the real readers and the face pipeline run on them unchanged (``python -m
data_prep.synthetic`` is the command).

`generate` writes the Aff-Wild2 layout::

    <output_dir>/VA_Set/{Train_Set,Validation_Set}/<name>.txt   "valence,arousal" + one line/frame
    <output_dir>/videos/<video>.mp4                              raw videos (mp4v)
    <output_dir>/cropped_aligned/<name>/00001.jpg                112x112 faces cut on the true
                                                                 landmarks (missing: no face), by
                                                                 default with an ArcFace-style
                                                                 template, as the real crops are
    <output_dir>/ground_truth/<name>.npz                         landmarks, face_visible, labels

Aff-Wild2's oddities are reproduced: some label files have 1-2 more lines than the video has
frames, frames without a face are labelled -5, and two-person videos are annotated as
``<video>_left``/``<video>_right``.

`generate_omg` writes the OMG-Emotion layout: each source video ``omgsynthNNN`` is rendered once as
one long sequence and cut into consecutive utterances of different lengths, each labelled once::

    <output_dir>/omg_{Train,Validation}Videos.csv        link,start,end,video,utterance,arousal,
                                                         valence,EmotionMaxVote (one row/utterance)
    <output_dir>/<video>/utterance_<k>.mp4               utterance clips (mp4v)
    <output_dir>/cropped_aligned/<video>/utterance_<k>/00001.jpg   aligned faces as above, so
                                                         preparing needs no face detection
                                                         (``prepare --omg_aligned_dir``)
    <output_dir>/ground_truth/<video>/utterance_<k>.npz  per-frame valence, arousal (generator's
                                                         [-1, 1]), face_visible, landmarks; the
                                                         utterance labels; start_frame, fps

``start``/``end`` are the utterance's span in seconds within its source video. An utterance's
labels are the means over its frames of the per-frame truth, mapped to OMG's ranges: arousal in
[0, 1] (``(a + 1) / 2``), valence in [-1, 1]; written with 6 decimals. With cut-aways on, in every
split the second of each three source videos has one utterance with a stretch of frames without a
face and the third has such an utterance plus one with no face at all (a split of three or more
source videos therefore always has both); the labels still cover those frames, as OMG's annotators
rated whole utterances.

``synthetic_config.json`` records the settings; the OMG layout's starts with ``"format": "omg"``
(the Aff-Wild2 file is unchanged from before the OMG format existed, so a file without ``format``
is Aff-Wild2).
"""

import dataclasses
import json
import os
from typing import Dict, List

import cv2
import numpy as np

from data_prep.synthetic_faces import RenderConfig, astronaut, check_motion_scale, render_video
from mimamo_tf import video as video_io
from mimamo_tf.atomic_files import write_text
from mimamo_tf.faces import alignment

ALIGNED_SIZE = 112  # Aff-Wild2 cropped_aligned frames are 112x112
# ArcFace's published 112x112 reference points (left eye, right eye, nose tip, mouth corners:
# (38.29, 51.70), (73.53, 51.50), (56.03, 71.74), (41.55, 92.37), (70.73, 92.20) px) as fractions of
# the crop: the face-recognition crop of 112x112 aligned-face releases such as Aff-Wild2's. Next to
# `CANONICAL_TEMPLATE` the eyes sit lower (y 0.46, not 0.38) and the face is larger (inter-ocular
# distance 0.315 of the side, not 0.300; the least-squares scale between the two is 1.08).
ARCFACE_STYLE_TEMPLATE = np.array(
    [[0.3419, 0.4616], [0.6565, 0.4598], [0.5002, 0.6405], [0.3710, 0.8247], [0.6315, 0.8233]],
    np.float64)
# --cropped_aligned_template: the template the cropped_aligned faces are cut with.
CROPPED_ALIGNED_TEMPLATES = {"arcface": ARCFACE_STYLE_TEMPLATE, "ours": alignment.CANONICAL_TEMPLATE}
SIZES = {
    # name: (train videos, validation videos, frames per video, two-person train videos)
    "tiny": (2, 1, 30, 0),
    "small": (4, 2, 90, 1),
    # Many short videos rather than a few long ones: with 10 videos of 300 frames the spatial
    # stream memorised each video's colour/scale/flip and did not generalise (validation valence
    # CCC 0.14); with 28 of 120 frames it reaches 0.64 in the same training time.
    "demo": (24, 8, 120, 2),
}
OMG_SIZES = {
    # name: (train source videos, validation source videos, utterances per video,
    #        shortest utterance, longest utterance in frames)
    # tiny stays near 540 rendered frames: tests and a quick look.
    "tiny": (4, 2, 3, 20, 40),
    "small": (6, 3, 4, 45, 90),
    # 1.5-4 s utterances at 30 fps, about the short end of OMG-Emotion's utterances. An utterance
    # gives one label: with 12 source videos (44 labelled training utterances) no net learned
    # (validation CCC ~0 at every learning rate tried); 40 give 160 labels.
    "demo": (40, 10, 4, 45, 120),
}
FORMATS = ("affwild2", "omg")
OMG_CSV_NAMES = {"train": "omg_TrainVideos.csv", "validation": "omg_ValidationVideos.csv"}
OMG_CSV_HEADER = "link,start,end,video,utterance,arousal,valence,EmotionMaxVote"
# OMG-Emotion's EmotionMaxVote classes, in the dataset's numbering.
OMG_EMOTIONS = {"anger": 0, "disgust": 1, "fear": 2, "happy": 3, "neutral": 4, "sad": 5, "surprise": 6}


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Settings of the generator.

    Attributes:
        train_videos: single-person videos in Train_Set.
        validation_videos: single-person videos in Validation_Set.
        two_person_videos: extra Train_Set videos with two people (``_left``/``_right`` labels).
        frames: frames per video.
        width, height: frame size (two-person videos are twice as wide).
        fps: frame rate.
        seed: everything is a deterministic function of the seed.
        cutaways: insert a stretch of frames without a face in every other video.
        label_surplus: give some label files 1-2 lines more than frames, like Aff-Wild2.
        cropped_aligned_template: template of the cropped_aligned faces, a key of
            `CROPPED_ALIGNED_TEMPLATES`: "arcface" (the provider's style, the default) or "ours".
        motion_scale: the micro-motion's amplitude as a factor of the default
            (`synthetic_faces.micro_motion`): 0 removes it (arousal is then invisible), 0.25 makes it
            four times subtler.
    """

    train_videos: int = 2
    validation_videos: int = 1
    two_person_videos: int = 0
    frames: int = 30
    width: int = 320
    height: int = 240
    fps: float = 30.0
    seed: int = 0
    cutaways: bool = True
    label_surplus: bool = True
    cropped_aligned_template: str = "arcface"
    motion_scale: float = 1.0

    def __post_init__(self):
        _check_template(self.cropped_aligned_template)
        check_motion_scale(self.motion_scale)

    def render_config(self) -> RenderConfig:
        """How each of its videos is rendered (a two-person video is twice as wide)."""
        return RenderConfig(frames=self.frames, width=self.width, height=self.height, fps=self.fps,
                            motion_scale=self.motion_scale)


@dataclasses.dataclass(frozen=True)
class OmgSyntheticConfig:
    """Settings of the generator in OMG-Emotion format (``--format=omg``).

    Attributes:
        train_videos: source videos whose utterances are listed in omg_TrainVideos.csv.
        validation_videos: source videos of omg_ValidationVideos.csv.
        utterances_per_video: consecutive utterances each source video is cut into.
        min_utterance_frames, max_utterance_frames: utterance lengths are drawn in this range
            (inclusive), distinct within a source video while the range allows it.
        width, height: frame size.
        fps: frame rate.
        seed: everything is a deterministic function of the seed.
        cutaways: frames and whole utterances without a face (see the module docstring).
        cropped_aligned_template: template of the aligned faces (see `SyntheticConfig`); "ours" by
            default: prepare keeps OMG's pre-aligned faces as they are.
        motion_scale: the micro-motion's amplitude as a factor of the default (see `SyntheticConfig`).
        videos_per_link: consecutive source videos of a split that share one ``link`` (one YouTube
            video), as OMG's ``video`` column names segments of a YouTube video: the folds must keep
            them together.
    """

    train_videos: int = 4
    validation_videos: int = 2
    utterances_per_video: int = 3
    min_utterance_frames: int = 20
    max_utterance_frames: int = 40
    width: int = 320
    height: int = 240
    fps: float = 30.0
    seed: int = 0
    cutaways: bool = True
    cropped_aligned_template: str = "ours"
    motion_scale: float = 1.0
    videos_per_link: int = 2

    def __post_init__(self):
        _check_template(self.cropped_aligned_template)
        check_motion_scale(self.motion_scale)
        if self.videos_per_link < 1:
            raise ValueError(f"videos_per_link must be >= 1, got {self.videos_per_link}")
        if self.utterances_per_video < 1:
            raise ValueError(f"utterances_per_video must be >= 1, got {self.utterances_per_video}")
        # A partial cut-away keeps at least one face frame on each side of a stretch of >= 3.
        if self.min_utterance_frames < 6:
            raise ValueError(f"min_utterance_frames must be >= 6, got {self.min_utterance_frames}")
        if self.max_utterance_frames < self.min_utterance_frames:
            raise ValueError(f"max_utterance_frames {self.max_utterance_frames} < "
                             f"min_utterance_frames {self.min_utterance_frames}")


def _check_template(name: str) -> None:
    if name not in CROPPED_ALIGNED_TEMPLATES:
        raise ValueError(f"cropped_aligned_template must be one of {sorted(CROPPED_ALIGNED_TEMPLATES)}, "
                         f"got {name!r}")


def write_label_file(path: str, valence: np.ndarray, arousal: np.ndarray, valid: np.ndarray,
                     surplus: int) -> None:
    """ABAW format: header, then ``valence,arousal`` per frame (-5 where invalid), `surplus`
    extra lines repeating the last one."""
    lines = ["valence,arousal"]
    for v, a, ok in zip(valence, arousal, valid):
        lines.append(f"{v:.3f},{a:.3f}" if ok else "-5,-5")
    lines.extend([lines[-1]] * surplus)
    write_text(path, "\n".join(lines) + "\n")


def write_aligned_frames(directory: str, frames: np.ndarray, landmarks: np.ndarray,
                         visible: np.ndarray, template: str = "ours") -> None:
    """cropped_aligned/<name>/{i+1:05d}.jpg aligned on the true landmarks; none where no face.

    Args:
        directory: the video's folder (created).
        frames: uint8 (T, H, W, 3) RGB frames.
        landmarks: (T, 5, 2) true landmarks in frame pixels.
        visible: bool (T,) where the face is shown.
        template: a key of `CROPPED_ALIGNED_TEMPLATES`.
    """
    os.makedirs(directory, exist_ok=True)
    target = CROPPED_ALIGNED_TEMPLATES[template] * float(ALIGNED_SIZE)
    for i in np.flatnonzero(visible):
        matrix = alignment.estimate_similarity(landmarks[i], target)
        face = cv2.warpAffine(frames[i], matrix, (ALIGNED_SIZE, ALIGNED_SIZE), flags=cv2.INTER_LINEAR)
        cv2.imwrite(os.path.join(directory, f"{i + 1:05d}.jpg"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])


def generate(output_dir: str, config: SyntheticConfig = SyntheticConfig()) -> Dict[str, List[str]]:
    """Writes the dataset.

    Args:
        output_dir: destination (created).
        config: sizes and seed.

    Returns:
        {"train": [annotation names], "validation": [...]}.
    """
    photo = astronaut()
    plan = ([("train", f"synth{i:03d}", 1) for i in range(config.train_videos)]
            + [("train", f"synthpair{i:03d}", 2) for i in range(config.two_person_videos)]
            + [("validation", f"synthval{i:03d}", 1) for i in range(config.validation_videos)])
    folders = {"train": "Train_Set", "validation": "Validation_Set"}
    for split_folder in folders.values():
        os.makedirs(os.path.join(output_dir, "VA_Set", split_folder), exist_ok=True)
    for sub in ("videos", "cropped_aligned", "ground_truth"):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
    names: Dict[str, List[str]] = {"train": [], "validation": []}
    for number, (split, video_name, persons) in enumerate(plan):
        video_rng = np.random.default_rng([config.seed, number])
        cutaway = config.cutaways and number % 2 == 1
        frames, tracks, visible, landmarks = render_video(video_rng, photo, config.render_config(), persons,
                                                          cutaway)
        video_io.write_video(os.path.join(output_dir, "videos", video_name + ".mp4"), frames, config.fps)
        suffixes = ["_left", "_right"] if persons == 2 else [""]
        for person, (suffix, track) in enumerate(zip(suffixes, tracks)):
            name = video_name + suffix
            surplus = (number % 3) if config.label_surplus else 0
            write_label_file(os.path.join(output_dir, "VA_Set", folders[split], name + ".txt"),
                             track.valence, track.arousal, visible, surplus)
            write_aligned_frames(os.path.join(output_dir, "cropped_aligned", name), frames,
                                 landmarks[person], visible, config.cropped_aligned_template)
            np.savez_compressed(os.path.join(output_dir, "ground_truth", name + ".npz"),
                                landmarks=landmarks[person], face_visible=visible,
                                valence=track.valence, arousal=track.arousal, micro=track.micro,
                                label_surplus=surplus)
            names[split].append(name)
    # No "format" key: the file stays as it was before the OMG format existed.
    write_text(os.path.join(output_dir, "synthetic_config.json"),
               json.dumps(dataclasses.asdict(config), indent=2))
    return names


def omg_emotion(arousal: float, valence: float) -> int:
    """A deterministic EmotionMaxVote for OMG-format utterance labels (arousal in [0, 1], valence
    in [-1, 1]): the categorical label the quadrant of the circumplex suggests. Nothing here is
    trained on it; it only fills the column like the real dataset's."""
    if valence >= 0.15:
        return OMG_EMOTIONS["surprise"] if arousal >= 0.75 else OMG_EMOTIONS["happy"]
    if valence <= -0.15:
        if arousal >= 0.75:
            return OMG_EMOTIONS["fear"]
        if arousal >= 0.55:
            return OMG_EMOTIONS["anger"]
        return OMG_EMOTIONS["sad"] if arousal < 0.4 else OMG_EMOTIONS["disgust"]
    return OMG_EMOTIONS["neutral"]


def _utterance_lengths(rng: np.random.Generator, config: OmgSyntheticConfig) -> np.ndarray:
    """Frames of each utterance of one source video: distinct while the range allows it."""
    choices = np.arange(config.min_utterance_frames, config.max_utterance_frames + 1)
    distinct = len(choices) >= config.utterances_per_video
    return rng.choice(choices, size=config.utterances_per_video, replace=not distinct)


def _omg_face_plan(rng: np.random.Generator, config: OmgSyntheticConfig, lengths: np.ndarray,
                   index_in_split: int) -> np.ndarray:
    """face_visible (T,) of one source video.

    Of every three source videos of a split, the first shows the face throughout, the second has
    one utterance with a stretch of 3-6 frames without a face (with face frames on both sides),
    and the third has such an utterance plus one utterance without a face at all.
    """
    visible = np.ones(int(lengths.sum()), bool)
    kind = index_in_split % 3
    if not config.cutaways or kind == 0:
        return visible
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    order = [int(u) for u in rng.permutation(len(lengths))]
    if kind == 2:
        whole = order.pop(0)
        visible[starts[whole]:starts[whole] + lengths[whole]] = False
    if order:
        partial = order[0]
        length = int(lengths[partial])
        stretch = min(int(rng.integers(3, 7)), length - 2)
        first = int(starts[partial] + rng.integers(1, length - stretch))
        visible[first:first + stretch] = False
    return visible


def omg_link(split: str, index_in_split: int, videos_per_link: int) -> str:
    """The ``link`` of a synthetic source video: one made-up YouTube video per ``videos_per_link``
    consecutive source videos of a split (they are its segments, as in the real CSVs)."""
    return f"https://youtu.be/synth{split[0]}{index_in_split // videos_per_link:03d}"


def generate_omg(output_dir: str, config: OmgSyntheticConfig = OmgSyntheticConfig()) -> Dict[str, List[str]]:
    """Writes the dataset in OMG-Emotion layout (see the module docstring).

    Args:
        output_dir: destination (created).
        config: sizes and seed.

    Returns:
        {"train": ["<video>/<utterance stem>", ...], "validation": [...]}: the reader's video ids, in the
        order of the CSV rows (a seeded shuffle, as the real CSVs are not in id order).
    """
    photo = astronaut()
    plan = ([("train", k) for k in range(config.train_videos)]
            + [("validation", k) for k in range(config.validation_videos)])
    for sub in ("cropped_aligned", "ground_truth"):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
    names: Dict[str, List[str]] = {"train": [], "validation": []}
    rows: Dict[str, List[str]] = {"train": [], "validation": []}
    for number, (split, index_in_split) in enumerate(plan):
        # Source videos are numbered across splits: like OMG's ids, a name does not tell the split.
        video_name = f"omgsynth{number:03d}"
        video_rng = np.random.default_rng([config.seed, number])
        lengths = _utterance_lengths(video_rng, config)
        visible = _omg_face_plan(video_rng, config, lengths, index_in_split)
        # One long render, then cut: the utterances of a video share the person, the lighting and
        # continuous label curves, as consecutive utterances of a real video do.
        render_config = RenderConfig(frames=int(lengths.sum()), width=config.width, height=config.height,
                                     fps=config.fps, motion_scale=config.motion_scale)
        frames, tracks, visible, landmarks = render_video(video_rng, photo, render_config, 1,
                                                          cutaway=False, visible=visible)
        track, landmarks = tracks[0], landmarks[0]
        os.makedirs(os.path.join(output_dir, video_name), exist_ok=True)
        os.makedirs(os.path.join(output_dir, "ground_truth", video_name), exist_ok=True)
        start = 0
        for number_in_video, length in enumerate(lengths, start=1):
            end = start + int(length)
            span = slice(start, end)
            stem = f"utterance_{number_in_video}"
            utterance = stem + ".mp4"  # the real CSVs carry the extension
            valence, arousal = track.valence[span], track.arousal[span]
            utterance_arousal = float(np.mean((arousal + 1.0) / 2.0))
            utterance_valence = float(np.mean(valence))
            video_io.write_video(os.path.join(output_dir, video_name, utterance), frames[span], config.fps)
            write_aligned_frames(os.path.join(output_dir, "cropped_aligned", video_name, stem),
                                 frames[span], landmarks[span], visible[span],
                                 config.cropped_aligned_template)
            np.savez_compressed(os.path.join(output_dir, "ground_truth", video_name, stem + ".npz"),
                                valence=valence, arousal=arousal, face_visible=visible[span],
                                landmarks=landmarks[span], utterance_arousal=utterance_arousal,
                                utterance_valence=utterance_valence, start_frame=start,
                                fps=config.fps)
            rows[split].append(",".join([
                omg_link(split, index_in_split, config.videos_per_link), f"{start / config.fps:.3f}",
                f"{end / config.fps:.3f}",
                video_name, utterance, f"{utterance_arousal:.6f}", f"{utterance_valence:.6f}",
                str(omg_emotion(utterance_arousal, utterance_valence))]))
            names[split].append(f"{video_name}/{stem}")
            start = end
    order_rng = np.random.default_rng([config.seed, len(plan)])
    for split, csv_name in OMG_CSV_NAMES.items():
        # The real CSVs are not in the order of their ids; neither are these, so that whatever pairs
        # rows by position (the official scorer) is tested against an order of its own.
        order = order_rng.permutation(len(rows[split]))
        names[split] = [names[split][i] for i in order]
        write_text(os.path.join(output_dir, csv_name),
                   "\n".join([OMG_CSV_HEADER] + [rows[split][i] for i in order]) + "\n")
    write_text(os.path.join(output_dir, "synthetic_config.json"),
               json.dumps({"format": "omg", **dataclasses.asdict(config)}, indent=2))
    return names
