"""``Predictor.predict_video`` on a video with a frame that cannot be decoded in the middle: that
frame is a frame without a face (as in prepare), whatever the face pipeline says about it, and the
frames after it keep their places.

A detector that finds the same face in every frame it is given (the blank stand-in for the broken
frame included) makes the face track claim a face everywhere; a stand-in runner reports the mean
brightness of each frame's face, so which face fed which prediction can be read off the output.
"""

import cv2
import numpy as np
import pytest
from skimage import data

from mimamo_tf import faces
from mimamo_tf.faces.detection import FaceDetection, FaceDetector
from mimamo_tf.inference import Predictor

FRAMES = 16
BAD = 7


class EverywhereDetector(FaceDetector):
    """One face at a fixed place in every frame."""

    name = "everywhere"

    def __init__(self):
        self.calls = 0

    def detect(self, frame_rgb):
        self.calls += 1
        landmarks = np.float32([[140, 100], [180, 100], [160, 125], [146, 150], [174, 150]])
        return [FaceDetection(box=np.float32([115, 65, 205, 185]), landmarks=landmarks, score=0.99)]


class BrightnessRunner:
    """A model stand-in: arousal = mean level of each central face / 255, valence = -arousal."""

    window, context = 4, 2

    def __call__(self, faces_in):
        central = faces_in[:, self.context: faces_in.shape[1] - self.context].astype(np.float64)
        level = central.mean(axis=(2, 3, 4)) / 255.0
        return np.stack([level, -level], -1).astype(np.float32)


def _write_mjpg_with_a_corrupt_frame(frames_rgb, path, corrupt_index):
    """An MJPG AVI whose frame ``corrupt_index`` has its JPEG data zeroed (undecodable; the frames
    after it decode)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, frames_rgb.shape[2:0:-1])
    for frame in frames_rgb:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    data_bytes = bytearray(open(path, "rb").read())
    starts = [i for i in range(len(data_bytes) - 1) if data_bytes[i] == 0xFF and data_bytes[i + 1] == 0xD8]
    assert len(starts) == len(frames_rgb)
    start, end = starts[corrupt_index] + 2, starts[corrupt_index + 1] - 16
    data_bytes[start:end] = bytes(end - start)
    open(path, "wb").write(bytes(data_bytes))


@pytest.fixture(scope="module")
def broken_video(tmp_path_factory):
    photo = cv2.resize(data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)[20:260]
    # Brightness rises frame by frame: a frame's face says which frame it is.
    frames = np.stack([np.clip(photo * (0.55 + 0.03 * t), 0, 255).astype(np.uint8) for t in range(FRAMES)])
    path = str(tmp_path_factory.mktemp("unreadable") / "one_bad_frame.avi")
    _write_mjpg_with_a_corrupt_frame(frames, path, BAD)
    return path


def _predictor(detector=None):
    return Predictor(BrightnessRunner(), face_config=faces.FacePipelineConfig(detect_every=1, smoothing_sigma=0),
                     detector=detector or EverywhereDetector())


def test_an_undecodable_frame_has_no_face_even_when_the_track_claims_one(broken_video):
    detector = EverywhereDetector()
    result = _predictor(detector).predict_video(broken_video)
    assert result.num_frames == FRAMES  # the frames after the broken one keep their indices
    assert detector.calls >= FRAMES  # the detector saw the stand-in too and "found" the face there
    expected = np.ones(FRAMES, np.int64)
    expected[BAD] = 0
    np.testing.assert_array_equal(result.face_found, expected)
    assert np.all(np.isnan(result.face_box[BAD])) and np.all(np.isfinite(np.delete(result.face_box, BAD, 0)))
    assert np.isnan(result.arousal[BAD]) and np.isnan(result.valence[BAD])
    assert np.all(np.isfinite(np.delete(result.arousal, BAD)))
    rows = result.rows()
    assert rows[BAD]["face_found"] == 0 and rows[BAD]["arousal"] is None and rows[BAD]["face_x"] is None
    # The faces after the gap are the right frames: brightness keeps rising across it.
    assert np.all(np.diff(np.delete(result.arousal, BAD)) > 0)


def test_the_undecodable_frame_is_filled_from_its_nearest_face(broken_video):
    result = _predictor().predict_video(broken_video, fill_missing=True)
    assert result.face_found[BAD] == 0
    # Equidistant face frames on both sides: the earlier one's face feeds the filled frame.
    assert result.arousal[BAD] == result.arousal[BAD - 1] and result.valence[BAD] == result.valence[BAD - 1]
    assert result.arousal[BAD] > 0.1  # a real face, not the blank stand-in


def test_a_recording_cut_short_is_predicted_up_to_its_last_decodable_frame(broken_video, tmp_path):
    """The AVI cut in the middle of its data (a crashed recorder: the header still promises all
    frames): ``predict`` warns with the promised count and predicts the frames that decode — each
    the same as in the whole file, since every prediction here reads only its own frame's face."""
    from mimamo_tf import video
    from mimamo_tf.inference.batch_prediction import predict_videos

    cut = tmp_path / "cut.avi"
    data_bytes = open(broken_video, "rb").read()
    cut.write_bytes(data_bytes[: int(len(data_bytes) * 0.6)])
    with pytest.raises(video.VideoReadError, match="truncated"):
        list(video.iter_frames(cut))  # what prepare sees: its labels would not match
    messages = []
    done, failed = predict_videos(_predictor(), [str(cut)], str(tmp_path / "out"), say=messages.append)
    assert not failed and len(done) == 1, messages
    warning = next(m for m in messages if "cut short" in m)
    assert f"header promises {FRAMES} frames" in warning
    decodable = sum(1 for _ in video.iter_frames(cut, mark_undecodable=True, truncated="ignore"))
    assert 3 <= decodable < FRAMES and f"only the first {decodable} decode" in warning
    whole = _predictor().predict_video(broken_video)
    with pytest.warns(video.TruncatedVideoWarning, match="cut short"):
        short = _predictor().predict_video(str(cut))
    assert short.num_frames == decodable
    keep = np.flatnonzero(short.face_found[: decodable - 2])  # the last frames' windows are clamped differently
    np.testing.assert_allclose(short.arousal[keep], whole.arousal[keep], atol=1e-6)
