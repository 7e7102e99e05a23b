"""The paper's illumination corruption (``PipelineConfig.gamma_beta``): every recorded frame ``u``
in [0, 1] becomes ``u ** g`` with ``g ~ U[1 - beta, 1 + beta]`` drawn per frame — the same ``g`` for
the gray frame and the RGB face of a frame, and for a faceless frame the ``g`` of the face frame
its inputs come from.

The oracle is the physics of the corruption itself: for a frame whose original pixels ``u`` are
known (the arrays written to the shards; the RGB face as the shard's JPEG decodes), every output
pixel ``c`` must be ``round(255 (u / 255) ** g)``, so each pixel confines ``g`` to an interval. The
intersection over a frame's pixels pins its ``g`` down to ~1e-4; gray and RGB pixels of one frame
must admit one common ``g``.
"""

import numpy as np
import pytest
import tensorflow as tf

from mimamo_tf.data import pipeline, schema
from mimamo_tf.data.pipeline import PipelineConfig
from mimamo_tf.testing.tiny_shards import tiny_video, write_shards

LENGTH = 40
# Video level: one sample per second, at the middle of each (frames 2, 6, ..., 38), of which the
# central 8 (frames 6 to 34) fill the window.
FPS = 4.0
FACELESS = (5, 6, 7, 20, 21, 22, 39)
CONTEXT = 6
SLACK = 1e-3  # in gray levels: float32 pow/round of the pipeline vs float64 here


def _sources(face_found):
    """Nearest frame with a face (the earlier on a tie), straight from the definition."""
    with_face = np.flatnonzero(face_found)
    return np.array([with_face[np.argmin(np.abs(with_face - t))] for t in range(len(face_found))])


def _video(video_id, seed, label_level):
    """Frames rich in distinct values: gray frames hold every level 0..255 (shifted per frame),
    RGB faces smooth colour ramps (survive JPEG with many levels)."""
    video = tiny_video(video_id, LENGTH, seed, label_level=label_level, spatial_dim=4)
    ramp = np.arange(48 * 48).reshape(48, 48) % 256
    video["gray48"] = np.stack([(ramp + 11 * t + seed) % 256 for t in range(LENGTH)]).astype(np.uint8)
    yy, xx = np.mgrid[:224, :224].astype(np.float64)
    video["rgb224"] = np.stack([
        np.stack([(xx + yy) / 446 * 255, np.abs(np.sin((xx + 3 * t) / 40)) * 255, yy / 223 * 255], -1)
        for t in range(LENGTH)]).round().astype(np.uint8)
    video["face_found"] = np.ones(LENGTH, np.int64)
    video["face_found"][list(FACELESS)] = 0
    video["label_valid"] = np.ones(LENGTH, np.int64)
    video["fps"] = FPS
    return video


def _decoded_rgb(video):
    """The RGB faces as the shards hold them (JPEG), decoded the way TensorFlow decodes them."""
    return np.stack([tf.io.decode_jpeg(schema.encode_jpeg(face), channels=3, dct_method="INTEGER_ACCURATE").numpy()
                     for face in video["rgb224"]]).astype(np.float64)


def _gamma_interval(original, corrupted):
    """The interval of ``g`` with ``round(255 (u / 255) ** g) == c`` at every pixel."""
    u, c = np.ravel(original).astype(np.float64), np.ravel(corrupted).astype(np.float64)
    inside = (u > 0) & (u < 255)
    log_u = np.log(u[inside] / 255.0)
    c = c[inside]
    upper_value = np.minimum((c + 0.5 + SLACK) / 255.0, 1.0)
    lower_value = (c - 0.5 - SLACK) / 255.0
    low = np.max(np.log(upper_value) / log_u)
    with np.errstate(divide="ignore", invalid="ignore"):
        high = np.min(np.where(lower_value > 0, np.log(np.maximum(lower_value, 1e-300)) / log_u, np.inf))
    return low, high


def _intersect(a, b):
    return max(a[0], b[0]), min(a[1], b[1])


def _corrupted_frames(tmp_path, label_level, beta, videos=1):
    """Runs the evaluation pipeline with gamma corruption; returns per video the gray and RGB
    outputs keyed by video frame index: ``{video_id: (video, {frame: [gray...]}, {frame: [rgb...]})}``."""
    written = [_video(f"gamma{i}", i, label_level) for i in range(videos)]
    files = write_shards(tmp_path / f"{label_level}_{beta}", "validation", written)
    window = 8
    config = PipelineConfig(window=window, batch_size=4, context=CONTEXT, spatial_input="images",
                            label_level=label_level, gamma_beta=beta)
    out = {v["video_id"]: (v, {}, {}) for v in written}
    for batch in pipeline.make_dataset(files, config, training=False):
        batch = {k: v.numpy() for k, v in batch.items()}
        for i in range(len(batch["labels"])):
            video, gray_of, rgb_of = out[batch["video_id"][i].decode()]
            gray = np.round(batch["gray48"][i] * 255.0)
            rgb = batch["rgb224"][i]
            if label_level == "frame":
                start = int(batch["start"][i])
                gray_frames = np.clip(np.arange(start - CONTEXT, start + window + CONTEXT), 0, LENGTH - 1)
                rgb_frames = np.minimum(np.arange(start, start + window), LENGTH - 1)
            else:  # one frame per second, the central block of `window`, each with its clamped neighbourhood
                rgb_frames = np.array([int((0.5 + k) * FPS) for k in range(1, 1 + window)])
                gray_frames = np.clip(rgb_frames[:, None] + np.arange(-CONTEXT, CONTEXT + 1)[None], 0, LENGTH - 1)
                gray, gray_frames = gray.reshape(-1, 48, 48), gray_frames.ravel()
            for f, image in zip(gray_frames, gray):
                gray_of.setdefault(int(f), []).append(image)
            for f, image in zip(rgb_frames, rgb):
                rgb_of.setdefault(int(f), []).append(image)
    return out


def _frame_gammas(video, gray_of, rgb_of=None):
    """``{source frame: (low, high)}``: the interval of ``g`` every output of the frames filled from
    that source admits (gray only, or gray and RGB together)."""
    source = _sources(video["face_found"])
    rgb_original = _decoded_rgb(video) if rgb_of is not None else None
    intervals = {}
    for outputs, original in ((gray_of, video["gray48"]), (rgb_of or {}, rgb_original)):
        for f, images in outputs.items():
            s = source[f]
            for image in images:
                interval = _gamma_interval(original[s], image)
                intervals[s] = _intersect(intervals.get(s, (-np.inf, np.inf)), interval)
    return intervals


@pytest.fixture(scope="module", params=["frame", "video"])
def corrupted(request, tmp_path_factory):
    beta = 0.4
    return request.param, beta, _corrupted_frames(tmp_path_factory.mktemp("gamma"), request.param, beta, videos=2)


def test_gray_and_rgb_of_a_frame_get_the_same_gamma(corrupted):
    label_level, beta, out = corrupted
    checked = 0
    for video, gray_of, rgb_of in out.values():
        gray_only = _frame_gammas(video, gray_of)
        both = _frame_gammas(video, gray_of, rgb_of)
        source = _sources(video["face_found"])
        for s in sorted({source[f] for f in rgb_of}):
            low, high = gray_only[s]
            assert low <= high, f"the gray frames filled from frame {s} admit no common gamma ({low:.4f} > {high:.4f})"
            assert high - low < 0.02  # g is pinned down (widest near g = 1: ~0.011)
            # One g reproduces every gray pixel and every RGB pixel of the frame.
            joint_low, joint_high = both[s]
            assert joint_low <= joint_high, (
                f"{label_level}-level, frame {s}: the gray frame was corrupted with g in "
                f"[{low:.4f}, {high:.4f}] but its RGB face with another gamma")
            checked += 1
    assert checked >= 16


def test_rgb_faces_are_exactly_the_gamma_of_the_gray_frame(corrupted):
    """Explicitly: with g estimated from the gray frame, RGB = round(255 (u/255) ** g) for all
    but pixels within rounding reach of a .5 boundary (a g error of ~1e-4 moves a level by <0.01)."""
    _, _, out = corrupted
    for video, gray_of, rgb_of in out.values():
        source = _sources(video["face_found"])
        gammas = _frame_gammas(video, gray_of)
        rgb = _decoded_rgb(video)
        for f, images in rgb_of.items():
            low, high = gammas[source[f]]
            g = (low + high) / 2
            expected = 255.0 * (rgb[source[f]] / 255.0) ** g
            near_half = np.abs(expected - np.floor(expected) - 0.5) < 0.02
            for image in images:
                np.testing.assert_array_equal(image[~near_half], np.round(expected)[~near_half])
                assert np.abs(image - expected).max() <= 0.52


def test_gammas_are_spread_over_both_sides_of_one(corrupted):
    label_level, beta, out = corrupted
    gammas = []
    for video, gray_of, _ in out.values():
        for low, high in _frame_gammas(video, gray_of).values():
            gammas.append((low + high) / 2)
    gammas = np.array(gammas)
    assert len(gammas) >= 16
    assert np.all(gammas >= 1 - beta - 1e-3) and np.all(gammas <= 1 + beta + 1e-3), gammas
    # U[1 - beta, 1 + beta]: darker and brighter frames both, reaching well into either half.
    assert gammas.min() < 1 - beta / 2 and gammas.max() > 1 + beta / 2, (
        f"{label_level}-level gammas span [{gammas.min():.3f}, {gammas.max():.3f}], "
        f"expected most of [{1 - beta}, {1 + beta}]")
    assert 0.25 < np.mean(gammas < 1) < 0.75
    # Different frames, different gammas (per frame, not per video).
    assert len(np.unique(np.round(gammas, 3))) > 0.9 * len(gammas)


def test_a_faceless_frame_is_its_source_frame_corrupted_alike(corrupted):
    label_level, _, out = corrupted
    compared = 0
    for video, gray_of, rgb_of in out.values():
        source = _sources(video["face_found"])
        for outputs in (gray_of, rgb_of):
            for f in FACELESS:
                s = source[f]
                if f not in outputs or s not in outputs:
                    continue
                for image in outputs[f]:
                    np.testing.assert_array_equal(
                        image, outputs[s][0],
                        err_msg=f"{label_level}-level: faceless frame {f} differs from its source frame {s}")
                    compared += 1
    assert compared >= 4
