# The two commands a newcomer runs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever setup.py changes; the stamp makes `make test` cheap on a warm checkout.
STAMP := $(VENV)/.installed

.PHONY: venv test demo bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/python -m mimamo_tf.bench phase --frames=600
	$(BIN)/python -m mimamo_tf.phase_demo --output_dir=demo_out

bench: $(STAMP)
	$(BIN)/python -m mimamo_tf.bench phase

clean:
	rm -rf $(VENV) demo_out .pytest_cache
