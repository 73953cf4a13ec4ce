# cargen: `make demo` runs the whole pipeline on synthetic data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo browser
CHROMIUM_PACKAGES := chromium chromium-driver

install: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

test: install browser
	$(PY) -m pytest

# The labeller's end-to-end test drives Debian's chromium through chromium-driver (no download).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(CHROMIUM_PACKAGES) for the labeller's browser test"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CHROMIUM_PACKAGES) >/dev/null; \
	  else \
	    echo "warning: /usr/bin/chromium or /usr/bin/chromedriver missing; install them as root with: apt-get install $(CHROMIUM_PACKAGES)" >&2; \
	  fi; \
	fi

demo: install
	@echo "cargen demo: the pipeline's scripts are still being built; present so far:"
	@for script in data/synthesize.py classifier/train_model.py classifier/classify_images.py \
	    generator/train_wgan.py generator/evaluate.py; do \
	  if [ -f $$script ]; then echo "  present: $$script"; else echo "  missing: $$script"; fi; \
	done
