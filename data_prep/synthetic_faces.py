"""The synthetic faces: videos of a real face, scikit-image's public-domain ``astronaut`` photo,
rendered from per-frame valence and arousal so that both streams of MIMAMO Net have something to
learn (`data_prep.synthetic_datasets` writes them as datasets):

* **valence drives static appearance**: smooth local warps lift the mouth corners (and widen the
  mouth) for positive valence, pull them down for negative valence, and lower and draw together
  the inner brows for negative valence;
* **arousal drives micro-motion**: eyes, brows and mouth each oscillate by small local warps whose
  amplitude (about 0.3 to 2.1 px, times ``motion_scale``) and rate (2 to 8 Hz) grow with arousal;
* nuisances: slow head translation/rotation/scale, illumination gain and gamma drift, and per-video
  flips, colour and scale variations; optional cut-away stretches without a face.
"""

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np
from skimage import data

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


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """What one rendered video is.

    Attributes:
        frames: frames of the video.
        width, height: frame size (two persons side by side make it twice as wide).
        fps: frame rate.
        motion_scale: the micro-motion's amplitude as a factor of the default (`micro_motion`):
            0 removes it (arousal is then invisible), 0.25 makes it four times subtler.
    """

    frames: int = 30
    width: int = 320
    height: int = 240
    fps: float = 30.0
    motion_scale: float = 1.0

    def __post_init__(self):
        check_motion_scale(self.motion_scale)


def check_motion_scale(scale: float) -> None:
    """``ValueError`` unless ``scale`` (``--motion_scale``) is a finite number >= 0."""
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"motion_scale must be a finite number >= 0, got {scale}")


def astronaut() -> np.ndarray:
    """The face photo every video is rendered from (RGB, 512x512)."""
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


def make_person(rng: np.random.Generator, photo: np.ndarray, config: RenderConfig,
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


def render_video(rng: np.random.Generator, photo: np.ndarray, config: RenderConfig,
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
