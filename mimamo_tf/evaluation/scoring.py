"""Scoring predictions as the benchmarks do (pure NumPy): the official CCC over every frame with a
valid label of all videos concatenated, the face-only CCC, per-video CCCs, and the prediction of
videos in which no face was ever found.

A video's entry is a dict of arrays: ``pred`` (T, 2), ``labels`` (T, 2), ``label_valid`` (T,),
``face_found`` (T,) — one row per frame, or one row per utterance at video level (OMG).
"""

import numpy as np

from mimamo_tf.ccc import ccc_numpy


def _ccc_pair(predictions, labels):
    """(arousal, valence) CCC; NaN where fewer than two values or no variance."""
    if len(labels) < 2:
        return float("nan"), float("nan")
    return tuple(float(ccc_numpy(predictions[:, i], labels[:, i])) for i in range(2))


def predict_faceless_videos(videos):
    """A video in which no face was ever found has no real input; its frames get the mean
    prediction of every frame with a face in the evaluated set (a constant), never the network's
    output for black frames. Returns the ids of such videos."""
    faceless = [video_id for video_id, v in videos.items() if not v["face_found"].any()]
    with_face = [v["pred"][v["face_found"]] for v in videos.values() if v["face_found"].any()]
    if faceless and with_face:
        mean = np.concatenate(with_face).mean(axis=0)
        for video_id in faceless:
            videos[video_id]["pred"][:] = mean
    return faceless


def _pooled_ccc(videos, selects):
    pred = np.concatenate([v["pred"][k] for v, k in zip(videos.values(), selects)])
    labels = np.concatenate([v["labels"][k] for v, k in zip(videos.values(), selects)])
    return _ccc_pair(pred, labels), len(labels)


def summarise(videos):
    """Benchmark CCCs over everything concatenated (official, and face frames only), plus per video."""
    official = [v["label_valid"] for v in videos.values()]
    face_only = [v["label_valid"] & v["face_found"] for v in videos.values()]
    (arousal, valence), frames = _pooled_ccc(videos, official)
    if frames < 2:
        raise RuntimeError("fewer than two valid frames to evaluate")
    (face_arousal, face_valence), frames_with_face = _pooled_ccc(videos, face_only)
    per_video = {}
    for (video_id, v), k in zip(videos.items(), official):
        a, b = _ccc_pair(v["pred"][k], v["labels"][k])
        per_video[video_id] = {"ccc_arousal": a, "ccc_valence": b, "frames": int(k.sum()),
                               "frames_with_face": int((k & v["face_found"]).sum())}
    return {
        "ccc_arousal": arousal,
        "ccc_valence": valence,
        "ccc_mean": (arousal + valence) / 2,
        "ccc_arousal_face_only": face_arousal,
        "ccc_valence_face_only": face_valence,
        "ccc_mean_face_only": (face_arousal + face_valence) / 2,
        "frames": int(frames),
        "frames_with_face": int(frames_with_face),
        "videos": len(videos),
        "per_video": per_video,
    }


def clipped_summary(videos):
    """The official CCCs of the predictions clipped to [-1, 1]: what ``predict`` writes by default
    (clipped to the label scale, the same thing after its affine map, to which CCC is blind), next to
    the unclipped scores of ``summarise`` (the paper's scoring, which stay the reported numbers).

    Returns:
        ``{"ccc_arousal", "ccc_valence", "ccc_mean", "clipped_frames": {output: fraction of the scored
        frames whose prediction lay outside [-1, 1]}, "description"}``.
    """
    official = [v["label_valid"] for v in videos.values()]
    clipped = {video_id: dict(v, pred=np.clip(v["pred"], -1.0, 1.0)) for video_id, v in videos.items()}
    (arousal, valence), frames = _pooled_ccc(clipped, official)
    outside = np.concatenate([np.abs(v["pred"][k]) > 1.0 for v, k in zip(videos.values(), official)])
    return {"ccc_arousal": arousal, "ccc_valence": valence, "ccc_mean": (arousal + valence) / 2,
            "clipped_frames": {name: float(outside[:, i].mean()) if frames else 0.0
                               for i, name in enumerate(("arousal", "valence"))},
            "description": "official CCCs of the predictions clipped to the label scale, as predict writes them "
                           "by default; ccc_arousal/ccc_valence/ccc_mean above score the unclipped outputs"}
