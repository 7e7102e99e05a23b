"""model_card.json (mimamo_tf.serving.model_card): one schema written and read by one module; cards
of before the version field are read, newer ones refused; the metrics are the exported epoch's."""

import json

import pytest

from mimamo_tf import config as config_lib
from mimamo_tf.serving import exporter
from mimamo_tf.serving.model_card import (SCHEMA_VERSION, LiteRTFiles, ModelCard, ModelCardError, read_card,
                                          write_card)


def _card(**changes):
    config = config_lib.ExperimentConfig()
    card = exporter.model_card(config, {"spec": "fer_mini_xception"}, "/nonexistent", "best",
                               LiteRTFiles(window=16, files={"float32": "model.tflite"}), compute_dtype="float32")
    return ModelCard(**{**card.__dict__, **changes})


def test_card_round_trips_and_states_the_input_contract(tmp_path):
    card = _card()
    write_card(card, tmp_path)
    data = json.loads((tmp_path / "model_card.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 1
    faces = data["inputs"]["faces"]
    assert faces["shape"] == ["batch", "window + 12", 224, 224, 3] and faces["context_frames"] == 6
    assert faces["window"] == {"trained_with": 64, "any_length": True}
    assert data["litert"]["faces_shape"] == [1, 16 + 12, 224, 224, 3]
    assert data["compute_dtype"] == "float32" and "float32 compute" in data["litert"]["description"]
    assert read_card(tmp_path) == card
    write_card(_card(compute_dtype="bfloat16"), tmp_path)
    assert read_card(tmp_path).compute_dtype == "bfloat16"


def test_a_card_written_before_compute_dtype_reads_it_as_unknown(tmp_path):
    """An optional key added within schema version 1: older cards lack it and still read."""
    data = _card().to_json()
    del data["compute_dtype"]
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    card = read_card(tmp_path)
    assert card.compute_dtype is None and card.schema_version == 1 and card == _card(compute_dtype=None)


def test_a_card_written_before_the_version_field_is_read_as_version_0(tmp_path):
    data = _card().to_json()
    del data["schema_version"], data["compute_dtype"]  # what mimamo_tf 0.1.0 before the schema wrote
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    card = read_card(tmp_path)
    assert card.schema_version == 0 and card.context_frames == 6 and card.trained_window == 64
    assert card.compute_dtype is None
    assert card.litert == LiteRTFiles(window=16, files={"float32": "model.tflite"})


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(schema_version=SCHEMA_VERSION + 1), "newer than this mimamo_tf reads"),
    (lambda d: d.update(schema_version="1"), "schema_version must be a whole number"),
    (lambda d: d["inputs"]["faces"].pop("context_frames"), "not a model card written by mimamo_tf.export"),
    (lambda d: d.pop("model"), "not a model card written by mimamo_tf.export"),
])
def test_cards_this_version_cannot_read_are_refused_naming_the_file(tmp_path, change, message):
    data = _card().to_json()
    change(data)
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match=message) as raised:
        read_card(tmp_path)
    assert str(tmp_path / "model_card.json") in str(raised.value)


def test_missing_card_is_refused(tmp_path):
    with pytest.raises(ModelCardError, match="no model_card.json in"):
        read_card(tmp_path)


def test_validation_metrics_are_those_of_the_exported_epoch(tmp_path):
    """Fabricated history: epoch 1 is the best, epoch 2 the last, epoch 0 the worst."""
    history = [{"epoch": 0, "val_ccc_mean": 0.1, "val_ccc_arousal": 0.0, "val_ccc_valence": 0.2},
               {"epoch": 1, "val_ccc_mean": 0.6, "val_ccc_arousal": 0.5, "val_ccc_valence": 0.7},
               {"epoch": 2, "val_ccc_mean": 0.3, "val_ccc_arousal": 0.4, "val_ccc_valence": 0.2}]
    (tmp_path / "history.json").write_text(json.dumps(history))
    assert exporter.validation_metrics(str(tmp_path), "best") == history[1]
    assert exporter.validation_metrics(str(tmp_path), "last") == history[2]
    assert exporter.validation_metrics(str(tmp_path), "/some/other.keras") is None
    card = exporter.model_card(config_lib.ExperimentConfig(), None, str(tmp_path), "best")
    assert card.validation_metrics["epoch"] == 1 and card.to_json()["validation_metrics"]["val_ccc_mean"] == 0.6


def test_the_card_records_the_training_faces_geometry_from_the_manifest(tmp_path):
    """The geometry comes from the training split of the run's data dir (what prepare recorded),
    survives the JSON round trip, and is None for data prepared before it was recorded."""
    from mimamo_tf import faces

    provider = faces.face_geometry("cropped_aligned, provider's crop", template=False)
    ours = faces.face_geometry("video")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "manifest.json").write_text(json.dumps({"splits": {"train": {"face_geometry": provider},
                                                                   "validation": {"face_geometry": ours}}}))
    config = config_lib.replace(config_lib.ExperimentConfig(), data={"data_dir": str(data_dir)})
    card = exporter.model_card(config, None, str(tmp_path), "best")
    assert card.face_geometry == provider  # the training split's, not the validation split's
    write_card(card, str(tmp_path))
    assert read_card(str(tmp_path)).face_geometry == provider
    assert json.loads((tmp_path / "model_card.json").read_text())["face_geometry"]["template"] is None
    (data_dir / "manifest.json").write_text(json.dumps({"splits": {"train": {}}}))
    assert exporter.model_card(config, None, str(tmp_path), "best").face_geometry is None


def test_the_card_records_the_training_label_scale_and_a_card_without_it_reads_as_none(tmp_path):
    """label_scale comes from the training split's manifest (the folder reader's label_range),
    round-trips, means [-1, 1] when the manifest records none, and is an optional key of version 1:
    a card without it reads as None (the model's own [-1, 1]); a bad one is refused."""
    from mimamo_tf.data.label_scale import MODEL_SCALE, LabelScale

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "manifest.json").write_text(json.dumps({"splits": {
        "train": {"settings": {"dataset": "folder", "label_range": [1.0, 9.0]}},
        "validation": {"settings": {"dataset": "folder", "label_range": [0.0, 10.0]}}}}))
    config = config_lib.replace(config_lib.ExperimentConfig(), data={"data_dir": str(data_dir)})
    card = exporter.model_card(config, None, str(tmp_path), "best")
    assert card.label_scale == LabelScale(1.0, 9.0)  # the training split's
    write_card(card, str(tmp_path))
    written = json.loads((tmp_path / "model_card.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION == 1
    assert (written["label_scale"]["low"], written["label_scale"]["high"]) == (1.0, 9.0)
    assert "low + (output + 1) / 2 * (high - low)" in written["label_scale"]["description"]
    assert read_card(str(tmp_path)) == card
    (data_dir / "manifest.json").write_text(json.dumps({"splits": {"train": {"settings": {"dataset": "affwild2"}}}}))
    assert exporter.model_card(config, None, str(tmp_path), "best").label_scale == MODEL_SCALE
    del written["label_scale"]
    (tmp_path / "model_card.json").write_text(json.dumps(written))
    assert read_card(str(tmp_path)) == ModelCard(**{**card.__dict__, "label_scale": None})
    written["label_scale"] = {"low": 9, "high": 1}
    (tmp_path / "model_card.json").write_text(json.dumps(written))
    with pytest.raises(ModelCardError, match="not a model card written by mimamo_tf.export"):
        read_card(str(tmp_path))
