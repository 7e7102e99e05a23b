"""The rows ``predict`` writes: one per frame (and face), the CSV's ``COLUMNS``, for files and live
input alike."""

import numpy as np

COLUMNS = ("frame", "time_s", "face_id", "face_found", "face_x", "face_y", "face_w", "face_h", "arousal", "valence")


def frame_row(frame, fps, face_id=None, face_found=0, face_box=None, arousal=None, valence=None):
    """One row of ``predict``'s CSV (``COLUMNS``) as a dict: box ``x, y, w, h`` in pixels to 0.1,
    values to 1e-6; a missing value (None or NaN) is None."""
    def value(x, digits):
        return None if x is None or not np.isfinite(x) else round(float(x), digits)

    x, y, w, h = face_box if face_box is not None else (None,) * 4
    return {"frame": int(frame), "time_s": round(frame / fps, 4), "face_id": face_id, "face_found": int(face_found),
            "face_x": value(x, 1), "face_y": value(y, 1), "face_w": value(w, 1), "face_h": value(h, 1),
            "arousal": value(arousal, 6), "valence": value(valence, 6)}
