"""The labels' annotation scale (mimamo_tf.data.label_scale) against the folder reader's own
mapping, and the scale a prepared split's manifest records (shards.split_label_scale)."""

import json

import numpy as np
import pytest

from data_prep.readers.registry import make_reader
from data_prep.readers.timed_labels import read_timed_label_file
from mimamo_tf.data import shards
from mimamo_tf.data.label_scale import MODEL_SCALE, LabelScale


def test_from_model_undoes_the_folder_readers_mapping_and_clips(tmp_path):
    """A 1..9 annotation read by the folder reader (onto [-1, 1]) comes back as annotated; values
    past the model's [-1, 1] are clipped to the scale's ends unless clip is off."""
    annotated = np.array([[1.0, 9.0], [3.5, 5.0], [7.25, 2.0], [9.0, 1.0]])  # valence, arousal
    path = tmp_path / "clip.csv"
    lines = [f"{i * 0.1:.1f},{valence},{arousal}" for i, (valence, arousal) in enumerate(annotated)]
    path.write_text("\n".join(["time_s,valence,arousal"] + lines) + "\n")
    labels = read_timed_label_file(str(path), label_range=(1.0, 9.0))
    scale = LabelScale(1.0, 9.0)
    np.testing.assert_allclose(scale.from_model(labels.valence), annotated[:, 0], atol=1e-5)
    np.testing.assert_allclose(scale.from_model(labels.arousal), annotated[:, 1], atol=1e-5)
    np.testing.assert_allclose(scale.to_model(annotated[:, 0]), labels.valence, atol=1e-6)
    outputs = np.array([-2.5, -1.0, 0.0, 0.5, 1.3, np.nan], np.float32)
    expected = 1.0 + (outputs.astype(np.float64) + 1.0) / 2.0 * 8.0
    np.testing.assert_allclose(scale.from_model(outputs, clip=False), expected, rtol=1e-6)
    np.testing.assert_allclose(scale.from_model(outputs), np.clip(expected, 1.0, 9.0), rtol=1e-6)
    assert scale.from_model(outputs).dtype == np.float32 and np.isnan(scale.from_model(outputs)[-1])
    # The model's own scale is exactly the identity, clipped or not.
    np.testing.assert_array_equal(MODEL_SCALE.from_model(outputs, clip=False), outputs)
    assert scale.middle == 5.0 and scale.describe() == "[1, 9]"
    with pytest.raises(ValueError, match="low < high"):
        LabelScale(9.0, 1.0)


def test_axis_range_is_the_scale_widened_to_values_outside_it():
    scale = LabelScale(1.0, 9.0)
    assert scale.axis_range() == pytest.approx((0.8, 9.2))
    assert scale.axis_range([2.0, 5.0, np.nan]) == pytest.approx((0.8, 9.2))
    assert scale.axis_range([-1.0, 10.0]) == pytest.approx((-1.275, 10.275))


def test_a_manifest_records_the_folder_readers_label_range_and_nothing_means_minus_one_to_one(tmp_path):
    """The training split's scale is the folder reader's --label_range as prepare records its
    settings (the reader's own settings dict); a split without it, a manifest without the split,
    and no manifest at all mean [-1, 1]."""
    folder = make_reader("folder", str(tmp_path), "train", label_range="1,9")
    manifest = {"splits": {"train": {"settings": {"dataset": "folder", **folder.settings()}},
                           "validation": {"settings": {"dataset": "affwild2", "affwild2_source": "video"}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert shards.split_label_scale(tmp_path, "train") == LabelScale(1.0, 9.0)
    assert shards.split_label_scale(tmp_path, "validation") == MODEL_SCALE
    assert shards.split_label_scale(tmp_path, "test") == MODEL_SCALE
    assert shards.split_label_scale(tmp_path / "nothing", "train") == MODEL_SCALE
