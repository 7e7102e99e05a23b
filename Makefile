# The two commands a newcomer runs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever setup.py changes; the stamp makes `make test` cheap on a warm checkout.
STAMP := $(VENV)/.installed
DATA := data
RUNS := runs

.PHONY: venv test demo demo-data demo-ablation bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# The embedded default data: synthetic Aff-Wild2-format videos -> face pipeline -> TFRecord shards
# with stored features of a frozen (randomly initialised: nothing can be downloaded) ResNet50.
# Re-running skips finished shards.
demo-data: $(STAMP)
	$(BIN)/python -m data_prep.synthetic --size=demo --output_dir=$(DATA)/synthetic
	$(BIN)/python -m data_prep.prepare --dataset=affwild2 --data_root=$(DATA)/synthetic --output_dir=$(DATA)/tfrecords --split=train --num_workers=2 --spatial_features=none
	$(BIN)/python -m data_prep.prepare --dataset=affwild2 --data_root=$(DATA)/synthetic --output_dir=$(DATA)/tfrecords --split=validation --num_workers=2 --spatial_features=none

# End to end: data -> train (configs/demo.cfg, ~10 min on 2 cores) -> evaluate -> CCC table.
demo: demo-data
	$(BIN)/python -m mimamo_tf.train --flagfile=configs/demo.cfg --data_dir=$(DATA)/tfrecords --model_dir=$(RUNS)/demo
	$(BIN)/python -m mimamo_tf.evaluate --flagfile=$(RUNS)/demo/flags.cfg
	$(BIN)/python -m mimamo_tf.report "two-stream=$(RUNS)/demo/eval_validation/metrics.json"
	-$(BIN)/python -m mimamo_tf.phase_demo --output_dir=$(RUNS)/demo

# The paper's Tables 4-5 on the synthetic data: single-stream nets next to the two-stream demo.
demo-ablation: demo
	$(BIN)/python -m mimamo_tf.train --flagfile=configs/demo.cfg --data_dir=$(DATA)/tfrecords --model_dir=$(RUNS)/demo_temporal --streams=temporal
	$(BIN)/python -m mimamo_tf.evaluate --flagfile=$(RUNS)/demo_temporal/flags.cfg
	$(BIN)/python -m mimamo_tf.train --flagfile=configs/demo.cfg --data_dir=$(DATA)/tfrecords --model_dir=$(RUNS)/demo_spatial --streams=spatial
	$(BIN)/python -m mimamo_tf.evaluate --flagfile=$(RUNS)/demo_spatial/flags.cfg
	$(BIN)/python -m mimamo_tf.report "two-stream=$(RUNS)/demo/eval_validation/metrics.json" \
		"temporal only (phase differences)=$(RUNS)/demo_temporal/eval_validation/metrics.json" \
		"spatial only=$(RUNS)/demo_spatial/eval_validation/metrics.json"

bench: $(STAMP)
	$(BIN)/python -m mimamo_tf.bench phase
	$(BIN)/python -m mimamo_tf.bench faces
	$(BIN)/python -m mimamo_tf.bench input

clean:
	rm -rf $(VENV) $(DATA) $(RUNS) demo_out .pytest_cache
