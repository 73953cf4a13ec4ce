# cargen: `make demo` runs the whole pipeline on synthetic data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo clean-demo

install: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

test: install
	$(PY) -m pytest

demo: install
	@echo "cargen demo: the pipeline's scripts are still being built; present so far:"
	@for script in data/synthesize.py classifier/train_model.py classifier/classify_images.py \
	    generator/train_wgan.py generator/evaluate.py; do \
	  if [ -f $$script ]; then echo "  present: $$script"; else echo "  missing: $$script"; fi; \
	done
