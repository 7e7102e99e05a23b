"""Real-face test frames: crops of scikit-image's public-domain ``astronaut`` photo.

Sub-pixel motion is made at 4x the output resolution with cubic interpolation and then reduced with
anti-aliasing, so a shift of ``d`` output pixels is a clean, band-limited translation.
"""

import functools

import numpy as np
import scipy.ndimage
from skimage import data, transform

# The face occupies roughly rows 40..280, cols 130..370 of the 512x512 photo.
FACE_BOX = (50, 150, 192)  # top, left, side (in photo pixels) of a square face crop


@functools.lru_cache(maxsize=1)
def astronaut_gray():
    """The photo as float64 ITU-R 601 luma in [0, 1]."""
    rgb = data.astronaut().astype(np.float64) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114])


def face_crop(shift_xy=(0.0, 0.0), size=48, box=FACE_BOX):
    """``size x size`` face crop whose content is moved by ``shift_xy`` output pixels (x right, y down).

    Moves the whole photo and then crops a fixed window, like a camera seeing a translated face.
    """
    top, left, side = box
    scale = side / size
    dx, dy = shift_xy
    # Crop a margin around the box so the cubic shift never reads outside the photo.
    margin = 16
    region = astronaut_gray()[top - margin : top + side + margin, left - margin : left + side + margin]
    moved = scipy.ndimage.shift(region, (dy * scale, dx * scale), order=3, mode="nearest")
    crop = moved[margin : margin + side, margin : margin + side]
    return transform.resize(crop, (size, size), anti_aliasing=True, order=1)


def random_images(count, size=48, seed=0):
    """Smooth random images (white noise blurred a little) in [0, 1]."""
    rng = np.random.default_rng(seed)
    images = scipy.ndimage.gaussian_filter(rng.random((count, size, size)), sigma=(0, 1, 1))
    images -= images.min(axis=(1, 2), keepdims=True)
    return images / images.max(axis=(1, 2), keepdims=True)
