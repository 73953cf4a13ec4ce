# cargen: `make demo` runs the whole pipeline on synthetic data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo browser media demo-clean
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

# ---- make demo: the whole pipeline on the built-in synthetic dataset -------------------------
# Each step leaves a stamp in $(DEMO)/.done/, so an interrupted `make demo` carries on where it
# stopped (the training scripts resume their run folders). `make demo-clean` starts afresh.
DEMO := data/demo
DEMO_VIEW := front_left
DEMO_CLASSIFIER := classifier/models/demo
DEMO_GENERATOR := generator/models/demo_$(DEMO_VIEW)
DEMO_SAMPLES := $(DEMO)/samples
DONE := $(DEMO)/.done
DEMO_PER_VIEW ?= 300
DEMO_PICTURES ?= 2700
DEMO_CLASSIFIER_EPOCHS ?= 20
DEMO_WGAN_OPTIONS ?= --image-size 64 --width 32 --batch 32 --epochs 100 --eval-every 25
resume_if = $(if $(wildcard $(1)/options.json),--resume)

demo: install $(DONE)/samples
	@$(PY) generator/demo_summary.py --classifier $(DEMO_CLASSIFIER) --sorted $(DEMO)/sorted \
	    --generator $(DEMO_GENERATOR) --samples $(DEMO_SAMPLES)

$(DONE)/synthetic: | $(STAMP)
	$(PY) data/synthesize.py $(DEMO)/synthetic --per-view $(DEMO_PER_VIEW) \
	    --pictures $(DEMO_PICTURES) --overwrite
	@mkdir -p $(DONE) && touch $@

$(DONE)/classifier: $(DONE)/synthetic
	$(PY) classifier/train_model.py --data $(DEMO)/synthetic --out $(DEMO_CLASSIFIER) \
	    --epochs $(DEMO_CLASSIFIER_EPOCHS) $(call resume_if,$(DEMO_CLASSIFIER))
	@touch $@

$(DONE)/sorted: $(DONE)/classifier
	$(PY) classifier/classify_images.py --model $(DEMO_CLASSIFIER) \
	    --input $(DEMO)/synthetic/pictures --copy --output $(DEMO)/sorted
	@touch $@

$(DONE)/generator: $(DONE)/sorted
	$(PY) generator/train_wgan.py --data $(DEMO)/sorted/$(DEMO_VIEW) --out $(DEMO_GENERATOR) \
	    --classifier $(DEMO_CLASSIFIER) $(DEMO_WGAN_OPTIONS) $(call resume_if,$(DEMO_GENERATOR))
	@touch $@

$(DONE)/evaluated: $(DONE)/generator
	$(PY) generator/evaluate.py --model $(DEMO_GENERATOR) --classifier $(DEMO_CLASSIFIER) \
	    --real $(DEMO)/sorted/$(DEMO_VIEW) --n 1000
	@touch $@

$(DONE)/samples: $(DONE)/evaluated
	$(PY) generator/generate.py --model $(DEMO_GENERATOR) --n 64 --out $(DEMO_SAMPLES) \
	    --grid --interpolate 24
	@touch $@

# Copy the demo's pictures that the README shows into media/ (run after `make demo`).
media: $(DONE)/samples
	cp $(DEMO_GENERATOR)/progress.gif media/demo_progress.gif
	cp $(DEMO_SAMPLES)/grid.png media/demo_grid.png

demo-clean:
	rm -rf $(DEMO) $(DEMO_CLASSIFIER) $(DEMO_GENERATOR)
