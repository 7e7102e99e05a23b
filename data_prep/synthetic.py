"""``python -m data_prep.synthetic``: a synthetic valence/arousal dataset in Aff-Wild2 or OMG format.

This is the project's embedded default dataset (no real dataset can be downloaded here). It
renders videos of a real face, scikit-image's public-domain ``astronaut`` photo, with per-frame
ground truth built so that both streams of MIMAMO Net have something to learn:

* **valence drives static appearance**: smooth local warps lift the mouth corners (and widen the
  mouth) for positive valence, pull them down for negative valence, and lower and draw together
  the inner brows for negative valence;
* **arousal drives micro-motion**: eyes, brows and mouth each oscillate by small local warps whose
  amplitude (about 0.3 to 2.1 px) and rate (2 to 8 Hz) grow with arousal;
* nuisances: slow head translation/rotation/scale, illumination gain and gamma drift, and per-video
  flips, colour and scale variations; optional cut-away stretches without a face.

``--format=affwild2`` (the default) writes this layout (the real Aff-Wild2 reader and the face
pipeline run on it unchanged)::

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

``--format=omg`` writes the OMG-Emotion layout (the real OMG reader runs on it unchanged): each
source video ``omgsynthNNN`` is rendered once as one long sequence and cut into consecutive
utterances of different lengths, each labelled once::

    <output_dir>/omg_{Train,Validation}Videos.csv        link,start,end,video,utterance,arousal,
                                                         valence,EmotionMaxVote (one row/utterance)
    <output_dir>/<video>/utterance_<k>.mp4               utterance clips (mp4v)
    <output_dir>/cropped_aligned/<video>/utterance_<k>/00001.jpg   aligned faces as above, so
                                                         preparing needs no face detection
                                                         (``prepare --omg_aligned_dir``)
    <output_dir>/ground_truth/<video>/utterance_<k>.npz  per-frame valence, arousal (generator's
                                                         [-1, 1]), face_visible, landmarks; the
                                                         utterance labels; start_frame, fps

**The crops' template** (``--cropped_aligned_template``): ``arcface`` (the Aff-Wild2 default) cuts
the crops as Aff-Wild2's provider does, with a face-recognition template (ArcFace's 112x112
reference points: eyes at y = 0.46 of the crop, the face about 8% larger than in ours); ``ours``
cuts them with the project's template (`mimamo_tf.faces.CANONICAL_TEMPLATE`, eyes at y = 0.38), the
geometry the raw-video path produces. OMG's default is ``ours``: its faces stand for faces aligned
beforehand, and prepare has no re-alignment for them (``prepare --cropped_aligned_geometry``
re-aligns Aff-Wild2's crops only).

``start``/``end`` are the utterance's span in seconds within its source video. An utterance's
labels are the means over its frames of the per-frame truth, mapped to OMG's ranges: arousal in
[0, 1] (``(a + 1) / 2``), valence in [-1, 1]; written with 6 decimals. With cut-aways on, in every
split the second of each three source videos has one utterance with a stretch of frames without a
face and the third has such an utterance plus one with no face at all (a split of three or more
source videos therefore always has both); the labels still cover those frames, as OMG's annotators
rated whole utterances.

Sizes (``--size``)::

    affwild2  videos (train + validation, two-person train)   frames per video
      tiny      2 + 1, 0                                          30
      small     4 + 2, 1                                          90
      demo     24 + 8, 2                                         120
    omg       source videos (train + validation) x utterances  frames per utterance
      tiny      4 + 2 x 3                                       20-40  (about 540 frames: tests)
      small     6 + 3 x 4                                       45-90
      demo     40 + 10 x 4                                      45-120 (1.5-4 s at 30 fps)

``synthetic_config.json`` records the settings; for ``--format=omg`` it starts with
``"format": "omg"`` (the Aff-Wild2 file is unchanged from before the OMG format existed, so a file
without ``format`` is Aff-Wild2).
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from absl import app, flags

from mimamo_tf import video as video_io
from mimamo_tf.atomic_files import write_text
from mimamo_tf.command_line import EXIT_BAD_INPUT, parse_flags
from mimamo_tf.faces import alignment

# Five landmarks of `skimage.data.astronaut()` (measured once with MTCNN at full resolution), in
# LANDMARK_NAMES order, plus the brows (placed by eye above the eyes).
ASTRONAUT_LANDMARKS = np.array(
    [[203.5, 100.1], [245.4, 102.2], [224.2, 126.4], [201.8, 138.6], [244.4, 140.4]], np.float64)
ASTRONAUT_BROWS = np.array([[203.0, 86.0], [246.0, 88.0]], np.float64)
ASTRONAUT_INNER_BROWS = np.array([[214.0, 88.0], [235.0, 89.0]], np.float64)
# Region of the photo that holds the face; expression warps are computed only there.
FACE_ROI = (150, 30, 310, 200)  # x0, y0, x1, y1
# Part of the photo without a face (flag and background), used for cut-away frames.
NO_FACE_REGION = (300, 0, 512, 300)  # x0, y0, x1, y1

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
        motion_scale: the micro-motion's amplitude as a factor of the default (`micro_motion`):
            0 removes it (arousal is then invisible), 0.25 makes it four times subtler.
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
        _check_motion_scale(self.motion_scale)


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

    def __post_init__(self):
        _check_template(self.cropped_aligned_template)
        _check_motion_scale(self.motion_scale)
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


def _check_motion_scale(scale: float) -> None:
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"motion_scale must be a finite number >= 0, got {scale}")


def _astronaut() -> np.ndarray:
    from skimage import data  # pylint: disable=import-outside-toplevel
    return data.astronaut()


def smooth_trajectory(rng: np.random.Generator, frames: int, fps: float, low: float, high: float,
                      periods_s=(2.0, 12.0), components: int = 3) -> np.ndarray:
    """Sum of random slow sinusoids rescaled to [low, high] (a smooth random label curve)."""
    t = np.arange(frames) / fps
    signal = np.zeros(frames)
    for _ in range(components):
        period = rng.uniform(*periods_s)
        signal += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    span = signal.max() - signal.min()
    unit = (signal - signal.min()) / span if span > 1e-9 else np.full(frames, 0.5)
    # Use a random sub-range so videos differ in mean and spread, like real annotations.
    lo = rng.uniform(low, low + 0.4 * (high - low))
    hi = rng.uniform(high - 0.4 * (high - low), high)
    return lo + unit * (hi - lo)


def micro_motion(rng: np.random.Generator, arousal: np.ndarray, fps: float, scale: float = 1.0) -> np.ndarray:
    """Offsets (T, 5, 2) in px of eyes, brows and mouth; amplitude and rate grow with arousal.

    Amplitude is 0.3 px at arousal -1 and 2.1 px at +1, times ``scale`` (``--motion_scale``); the
    rate 2 Hz to 8 Hz (each region and axis gets a random phase and a +-25% rate jitter). The phase
    integrates the rate, so a changing arousal changes the rate smoothly. The random draws do not
    depend on ``scale``, so datasets of different scales differ in the amplitude alone.
    """
    arousal = np.asarray(arousal, np.float64)
    amplitude = scale * (0.3 + 0.9 * (arousal + 1.0))
    rate = 2.0 + 3.0 * (arousal + 1.0)
    micro = np.zeros((len(arousal), 5, 2))
    for region in range(5):
        for axis in range(2):
            phase0 = rng.uniform(0, 2 * np.pi)
            rate_jitter = rng.uniform(0.8, 1.25)
            phase = phase0 + 2 * np.pi * np.cumsum(rate * rate_jitter) / fps
            weight = 1.0 if axis == 1 else 0.5  # mostly vertical, like blinks and brow flashes
            micro[:, region, axis] = weight * amplitude * np.sin(phase)
    return micro


def _gaussian_bump(xx, yy, centre, sigma) -> np.ndarray:
    return np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2.0 * sigma**2))


class FaceRenderer:
    """Renders one person's face under a valence/arousal state (expression warps on the photo)."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, brows: np.ndarray,
                 inner_brows: np.ndarray, flipped: bool):
        self.image = image
        self.landmarks = landmarks
        x0, y0, x1, y1 = FACE_ROI
        if flipped:
            x0, x1 = image.shape[1] - x1, image.shape[1] - x0
        self.roi = (x0, y0, x1, y1)
        xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        self.grid = (xs, ys)
        left_eye, right_eye, _, mouth_left, mouth_right = landmarks
        mouth_centre = 0.5 * (mouth_left + mouth_right)
        # Bumps: (centre, sigma px). Static valence warps and arousal micro-motion regions.
        self.mouth_corner_bumps = [_gaussian_bump(xs, ys, mouth_left, 7.0),
                                   _gaussian_bump(xs, ys, mouth_right, 7.0)]
        self.inner_brow_bumps = [_gaussian_bump(xs, ys, inner_brows[0], 7.0),
                                 _gaussian_bump(xs, ys, inner_brows[1], 7.0)]
        self.motion_regions = [
            _gaussian_bump(xs, ys, left_eye, 6.0), _gaussian_bump(xs, ys, right_eye, 6.0),
            _gaussian_bump(xs, ys, brows[0], 7.0), _gaussian_bump(xs, ys, brows[1], 7.0),
            _gaussian_bump(xs, ys, mouth_centre, 9.0),
        ]
        self.mouth_sign = (-1.0, 1.0)  # left corner moves left, right corner right when widening

    def displacement(self, valence: float, micro: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Forward displacement field (dx, dy) over the face ROI.

        Args:
            valence: in [-1, 1].
            micro: (5, 2) micro-motion offsets in px of eyes, brows, mouth.
        """
        dx = np.zeros_like(self.grid[0])
        dy = np.zeros_like(self.grid[0])
        for sign, bump in zip(self.mouth_sign, self.mouth_corner_bumps):
            dy += bump * (-3.0 * valence)          # corners up for positive valence
            dx += bump * (sign * 1.5 * valence)    # wider mouth when smiling
        frown = max(-valence, 0.0)
        for sign, bump in zip((1.0, -1.0), self.inner_brow_bumps):
            dy += bump * (2.5 * frown - 1.0 * max(valence, 0.0))  # lowered when negative
            dx += bump * (sign * 2.0 * frown)                     # drawn together
        for offset, bump in zip(micro, self.motion_regions):
            dx += bump * offset[0]
            dy += bump * offset[1]
        return dx, dy

    def render(self, valence: float, micro: np.ndarray) -> np.ndarray:
        """The photo with the expression applied (full size, uint8 RGB)."""
        dx, dy = self.displacement(valence, micro)
        x0, y0, x1, y1 = self.roi
        # Backward mapping: output pixel p takes the input at p - d(p) (d is small and smooth).
        map_x = self.grid[0] - dx
        map_y = self.grid[1] - dy
        warped = cv2.remap(self.image, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
        output = self.image.copy()
        output[y0:y1, x0:x1] = warped
        return output


@dataclasses.dataclass
class PersonTrack:
    """Per-frame state of one rendered person."""

    renderer: FaceRenderer
    valence: np.ndarray
    arousal: np.ndarray
    micro: np.ndarray          # (T, 5, 2)
    head: np.ndarray           # (T, 2, 3) photo -> canvas similarity
    colour_gain: np.ndarray    # (3,)


def make_person(rng: np.random.Generator, photo: np.ndarray, config: SyntheticConfig,
                canvas_size: Tuple[int, int], centre: Tuple[float, float], flipped: bool) -> PersonTrack:
    """Draws one person's labels, micro-motion, head motion and appearance variation."""
    frames, fps = config.frames, config.fps
    image = photo[:, ::-1].copy() if flipped else photo
    landmarks, brows, inner = (ASTRONAUT_LANDMARKS.copy(), ASTRONAUT_BROWS.copy(),
                               ASTRONAUT_INNER_BROWS.copy())
    if flipped:
        width = photo.shape[1] - 1
        # Mirror and swap left/right so the order stays image-left first.
        landmarks = np.stack([landmarks[i] for i in (1, 0, 2, 4, 3)])
        brows, inner = brows[::-1].copy(), inner[::-1].copy()
        for points in (landmarks, brows, inner):
            points[:, 0] = width - points[:, 0]
    renderer = FaceRenderer(image, landmarks, brows, inner, flipped)
    valence = np.round(smooth_trajectory(rng, frames, fps, -0.9, 0.9), 3)
    arousal = np.round(smooth_trajectory(rng, frames, fps, -0.9, 0.9), 3)
    micro = micro_motion(rng, arousal, fps, config.motion_scale)
    # Head motion: slow drift of position (px), rotation (rad) and scale around the canvas centre.
    t = np.arange(frames) / fps
    base_scale = rng.uniform(0.85, 1.2) * min(canvas_size) / 240.0
    def drift(amplitude_value):
        period = rng.uniform(3.0, 8.0)
        return amplitude_value * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    shift_x, shift_y = drift(6.0), drift(4.0)
    angle = drift(np.deg2rad(4.0))
    scale = base_scale * (1.0 + drift(0.04))
    face_centre = landmarks.mean(axis=0)
    head = np.zeros((frames, 2, 3))
    for i in range(frames):
        c, s = scale[i] * np.cos(angle[i]), scale[i] * np.sin(angle[i])
        rotation = np.array([[c, -s], [s, c]])
        target = np.array([centre[0] + shift_x[i], centre[1] + shift_y[i]])
        head[i, :, :2] = rotation
        head[i, :, 2] = target - rotation @ face_centre
    colour_gain = rng.uniform(0.85, 1.15, size=3)
    return PersonTrack(renderer=renderer, valence=valence, arousal=arousal, micro=micro, head=head,
                       colour_gain=colour_gain)


def _illumination(rng: np.random.Generator, frames: int, fps: float):
    t = np.arange(frames) / fps
    gain = 1.0 + 0.12 * np.sin(2 * np.pi * t / rng.uniform(4.0, 10.0) + rng.uniform(0, 6.3))
    gamma = 1.0 + 0.10 * np.sin(2 * np.pi * t / rng.uniform(4.0, 10.0) + rng.uniform(0, 6.3))
    return gain, gamma


def _apply_light(image: np.ndarray, gain: float, gamma: float, colour_gain: np.ndarray) -> np.ndarray:
    unit = image.astype(np.float32) / 255.0
    lit = np.power(unit, gamma) * gain * colour_gain.astype(np.float32)
    return np.clip(lit * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_video(rng: np.random.Generator, photo: np.ndarray, config: SyntheticConfig,
                 persons: int, cutaway: bool, visible: Optional[np.ndarray] = None):
    """Renders one video.

    Args:
        rng: all random draws of the video.
        photo: the face photo.
        config: frames, frame size and fps.
        persons: 1, or 2 side by side.
        cutaway: draw one 4-frame stretch without a face (ignored when `visible` is given).
        visible: optional bool (T,): where the face is shown; the background elsewhere. Lets a
            caller place cut-aways itself (the OMG format cuts whole utterances away).

    Returns:
        (frames uint8 (T, H, W', 3), list of PersonTrack, face_visible bool (T,), landmarks per
        person (P, T, 5, 2) in canvas pixels).
    """
    width, height = config.width * persons, config.height
    tracks = []
    for person in range(persons):
        centre = (config.width * (person + 0.5), height * 0.5)
        flipped = bool(rng.integers(0, 2)) if persons == 1 else person == 1
        tracks.append(make_person(rng, photo, config, (config.width, height), centre, flipped))
    gain, gamma = _illumination(rng, config.frames, config.fps)
    if visible is not None:
        visible = np.asarray(visible, bool)
        if visible.shape != (config.frames,):
            raise ValueError(f"visible has shape {visible.shape}, expected ({config.frames},)")
    elif cutaway and config.frames >= 12:
        visible = np.ones(config.frames, bool)
        start = int(rng.integers(config.frames // 3, config.frames - 6))
        visible[start:start + 4] = False
    else:
        visible = np.ones(config.frames, bool)
    x0, y0, x1, y1 = NO_FACE_REGION
    background = cv2.resize(photo[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_AREA)
    frames = np.zeros((config.frames, height, width, 3), np.uint8)
    landmarks = np.zeros((persons, config.frames, 5, 2))
    for i in range(config.frames):
        if not visible[i]:
            frames[i] = _apply_light(background, gain[i], gamma[i], np.ones(3))
            continue
        canvas = np.zeros((height, width, 3), np.uint8)
        for person, track in enumerate(tracks):
            face = track.renderer.render(track.valence[i], track.micro[i])
            face = _apply_light(face, gain[i], gamma[i], track.colour_gain)
            # Each person fills its own half; the photo is reflected at its borders.
            part = cv2.warpAffine(face, track.head[i], (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT)
            left = config.width * person
            canvas[:, left:left + config.width] = part[:, left:left + config.width]
            landmarks[person, i] = track.renderer.landmarks @ track.head[i][:, :2].T + track.head[i][:, 2]
        frames[i] = canvas
    return frames, tracks, visible, landmarks


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
    rng = np.random.default_rng(config.seed)
    photo = _astronaut()
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
        frames, tracks, visible, landmarks = render_video(video_rng, photo, config, persons, cutaway)
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


def generate_omg(output_dir: str, config: OmgSyntheticConfig = OmgSyntheticConfig()) -> Dict[str, List[str]]:
    """Writes the dataset in OMG-Emotion layout (see the module docstring).

    Args:
        output_dir: destination (created).
        config: sizes and seed.

    Returns:
        {"train": ["<video>/<utterance stem>", ...], "validation": [...]}: the reader's video ids.
    """
    photo = _astronaut()
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
        render_config = SyntheticConfig(frames=int(lengths.sum()), width=config.width,
                                        height=config.height, fps=config.fps, seed=config.seed,
                                        motion_scale=config.motion_scale)
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
                f"https://youtu.be/{video_name}", f"{start / config.fps:.3f}", f"{end / config.fps:.3f}",
                video_name, utterance, f"{utterance_arousal:.6f}", f"{utterance_valence:.6f}",
                str(omg_emotion(utterance_arousal, utterance_valence))]))
            names[split].append(f"{video_name}/{stem}")
            start = end
    for split, csv_name in OMG_CSV_NAMES.items():
        write_text(os.path.join(output_dir, csv_name), "\n".join([OMG_CSV_HEADER] + rows[split]) + "\n")
    write_text(os.path.join(output_dir, "synthetic_config.json"),
               json.dumps({"format": "omg", **dataclasses.asdict(config)}, indent=2))
    return names


FLAGS = flags.FLAGS


def main(argv):
    del argv
    if FLAGS.format == "omg":
        return _main_omg()
    if FLAGS.utterances_per_video is not None:
        raise app.UsageError("--utterances_per_video applies to --format=omg only", exitcode=EXIT_BAD_INPUT)
    train, validation, frames, pairs = SIZES[FLAGS.size]
    config = SyntheticConfig(
        train_videos=train if FLAGS.train_videos is None else FLAGS.train_videos,
        validation_videos=validation if FLAGS.validation_videos is None else FLAGS.validation_videos,
        two_person_videos=pairs if FLAGS.two_person_videos is None else FLAGS.two_person_videos,
        frames=frames if FLAGS.frames is None else FLAGS.frames,
        width=FLAGS.width, height=FLAGS.height, seed=FLAGS.seed, motion_scale=FLAGS.motion_scale,
        **_template_override())
    names = generate(FLAGS.output_dir, config)
    total = (config.train_videos + config.validation_videos + config.two_person_videos) * config.frames
    print(f"wrote {len(names['train'])} train and {len(names['validation'])} validation annotations "
          f"({total} video frames) to {FLAGS.output_dir}")
    return 0


def _template_override() -> dict:
    """``--cropped_aligned_template`` as a config keyword, or nothing (the format's default)."""
    if FLAGS.cropped_aligned_template is None:
        return {}
    return {"cropped_aligned_template": FLAGS.cropped_aligned_template}


def _main_omg():
    for name in ("two_person_videos", "frames"):
        if getattr(FLAGS, name) is not None:
            raise app.UsageError(f"--{name} applies to --format=affwild2 only (OMG sizes: --size, "
                                 f"--train_videos, --validation_videos, --utterances_per_video)",
                                 exitcode=EXIT_BAD_INPUT)
    train, validation, utterances, shortest, longest = OMG_SIZES[FLAGS.size]
    try:
        config = OmgSyntheticConfig(
            train_videos=train if FLAGS.train_videos is None else FLAGS.train_videos,
            validation_videos=validation if FLAGS.validation_videos is None else FLAGS.validation_videos,
            utterances_per_video=(utterances if FLAGS.utterances_per_video is None
                                  else FLAGS.utterances_per_video),
            min_utterance_frames=shortest, max_utterance_frames=longest,
            width=FLAGS.width, height=FLAGS.height, seed=FLAGS.seed, motion_scale=FLAGS.motion_scale,
            **_template_override())
    except ValueError as error:
        raise app.UsageError(f"--format=omg: {error}", exitcode=EXIT_BAD_INPUT) from error
    names = generate_omg(FLAGS.output_dir, config)
    print(f"wrote {len(names['train'])} train and {len(names['validation'])} validation utterances "
          f"of {config.train_videos + config.validation_videos} source videos (OMG-Emotion layout) "
          f"to {FLAGS.output_dir}")
    return 0


def define_flags():
    """Registers the CLI flags (only when run as a program, so importing this module as a
    library never collides with other tools' flags)."""
    flags.DEFINE_string("output_dir", "data/synthetic", "Where to write the dataset.")
    flags.DEFINE_enum("format", "affwild2", FORMATS, "Dataset layout: affwild2 (videos with per-frame "
                      "labels) or omg (OMG-Emotion: utterance clips cut from longer videos, one label "
                      "per utterance, plus their aligned faces).")
    flags.DEFINE_enum("size", "small", sorted(SIZES), "Preset: tiny (tests), small, demo. affwild2 "
                      "demo: 28 train + 8 validation faces, ~4.3k frames; omg demo: 40 + 10 source "
                      "videos x 4 utterances of 45-120 frames (see the module docstring).")
    flags.DEFINE_integer("train_videos", None, "Override the preset's single-person train videos "
                         "(omg: train source videos).")
    flags.DEFINE_integer("validation_videos", None, "Override the preset's validation videos "
                         "(omg: validation source videos).")
    flags.DEFINE_integer("two_person_videos", None, "Override the preset's two-person train videos "
                         "(affwild2 only).")
    flags.DEFINE_integer("frames", None, "Override the preset's frames per video (affwild2 only).")
    flags.DEFINE_integer("utterances_per_video", None, "Override the preset's utterances per source "
                         "video (omg only).")
    flags.DEFINE_float("motion_scale", 1.0, "The micro-motion's amplitude (which carries arousal) as a factor of "
                       "the default 0.3-2.1 px: 0 removes it, 0.25 makes it four times subtler.", lower_bound=0.0)
    flags.DEFINE_integer("width", 320, "Frame width (per person).")
    flags.DEFINE_integer("height", 240, "Frame height.")
    flags.DEFINE_integer("seed", 0, "Random seed (output is a deterministic function of it).")
    flags.DEFINE_enum("cropped_aligned_template", None, sorted(CROPPED_ALIGNED_TEMPLATES),
                      "Template the cropped_aligned faces are cut with: arcface (a face-recognition "
                      "112x112 crop like Aff-Wild2's provided faces: eyes lower, face larger) or ours "
                      "(mimamo_tf.faces.CANONICAL_TEMPLATE). Default: arcface for affwild2, ours for omg.")


def cli():
    """Console-script entry point."""
    define_flags()
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    cli()
