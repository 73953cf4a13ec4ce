# cargen: `make demo` runs the whole pipeline on synthetic data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo browser media demo-clean pretrained
CHROMIUM_PACKAGES := chromium chromium-driver

install: $(STAMP)

# The project is installed in editable mode: the scripts import cargen, classifier and generator
# from this checkout, so edits take effect without reinstalling.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
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
# The demo's recipe for a 2-core CPU (why each value: docs/results.md, "The demo" and "The
# generator on a CPU"): a 96 px classifier at width 1 (the width those figures were measured at)
# for 18 epochs, and WGAN-GP with one critic update per generator update, batch 24, a moving
# average of the generator and bfloat16 where the CPU has it.
DEMO_CLASSIFIER_EPOCHS ?= 18
DEMO_CLASSIFIER_SIZE ?= 96
DEMO_CLASSIFIER_WIDTH ?= 1
DEMO_WGAN_OPTIONS ?= --loss wgan-gp --n-critic 1 --learning-rate 2e-4 --image-size 64 --width 32 \
    --batch-size 24 --mixed-precision --ema 0.99 --steps-per-epoch 100 --epochs 37 --eval-every 10
resume_if = $(if $(wildcard $(1)/options.json),--resume)

DEMO_STARTED := $(shell date +%s)

demo: install $(DONE)/samples
	@$(PY) generator/demo_summary.py --classifier $(DEMO_CLASSIFIER) --sorted $(DEMO)/sorted \
	    --generator $(DEMO_GENERATOR) --samples $(DEMO_SAMPLES) --started $(DEMO_STARTED)

$(DONE)/synthetic: | $(STAMP)
	$(PY) data/synthesize.py $(DEMO)/synthetic --per-view $(DEMO_PER_VIEW) \
	    --pictures $(DEMO_PICTURES) --overwrite
	@mkdir -p $(DONE) && touch $@

$(DONE)/classifier: $(DONE)/synthetic
	$(PY) classifier/train_model.py --data $(DEMO)/synthetic --out $(DEMO_CLASSIFIER) \
	    --epochs $(DEMO_CLASSIFIER_EPOCHS) --image-size $(DEMO_CLASSIFIER_SIZE) \
	    --width $(DEMO_CLASSIFIER_WIDTH) \
	    $(call resume_if,$(DEMO_CLASSIFIER))
	@touch $@

$(DONE)/sorted: $(DONE)/classifier
	$(PY) classifier/classify_images.py --model $(DEMO_CLASSIFIER) \
	    --input $(DEMO)/synthetic/pictures --copy --out $(DEMO)/sorted
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
	$(PY) generator/progress_gif.py $(DEMO_GENERATOR) media/demo_progress.gif --max-mb 1.9
	cp $(DEMO_SAMPLES)/grid.png media/demo_grid.png

demo-clean:
	rm -rf $(DEMO) $(DEMO_CLASSIFIER) $(DEMO_GENERATOR)

# ---- make pretrained: the shipped classifier (classifier/pretrained) -------------------------
# Trains the default classifier on every labelled set (stanford-views street photos,
# listing-views used-car listings with real `other`, car-details interiors and parts, and the
# renderer's `other` pictures and cars of the eight views) twice: with the validation photos
# held back (its report, per source, is published), then on both splits (its weights are
# shipped). Needs ../shared/data
# (reference data that a user's clone does not have; set DATA_ROOT=DIR). PRETRAINED_EPOCHS: 40
# epochs of 7,406 pictures took the measured run 58-71 minutes on a 2-core CPU (73-95 images/s),
# the released run's 8,822 pictures 91 minutes (66 images/s). A killed run resumes.
DATA_ROOT ?= ../shared/data
PRETRAINED_SETS := stanford-views listing-views car-details
PRETRAINED_EPOCHS ?= 40
PRETRAINED_OTHER := data/pretrained_other
PRETRAINED_VIEWS := data/pretrained_views
PRETRAINED_RUNS := classifier/models/pretrained
# the measured run trains on the train/ splits and watches every validation/ split; the released
# run adds the validation/ splits to its training (and still watches them, as seen photos)
PRETRAINED_TRAIN := --data $(DATA_ROOT)/stanford-views --add $(DATA_ROOT)/listing-views \
    --add $(DATA_ROOT)/car-details --add $(PRETRAINED_OTHER) --add $(PRETRAINED_VIEWS)
PRETRAINED_ALL := $(PRETRAINED_TRAIN) $(foreach set,$(PRETRAINED_SETS),\
    --add $(DATA_ROOT)/$(set)/validation) --add $(PRETRAINED_OTHER)/validation \
    --add $(PRETRAINED_VIEWS)/validation

pretrained: install
	@for set in $(PRETRAINED_SETS); do \
	  test -d $(DATA_ROOT)/$$set/train -a -d $(DATA_ROOT)/$$set/validation || \
	  { echo "make pretrained: $(DATA_ROOT)/$$set not found (it needs train/ and validation/; set DATA_ROOT=DIR)" >&2; exit 2; }; \
	done
	$(PY) -m cargen.synthetic.training_sets --other $(PRETRAINED_OTHER) --views $(PRETRAINED_VIEWS)
	$(PY) classifier/train_model.py $(PRETRAINED_TRAIN) \
	    --epochs $(PRETRAINED_EPOCHS) --out $(PRETRAINED_RUNS)_measured \
	    $(call resume_if,$(PRETRAINED_RUNS)_measured)
	$(PY) classifier/train_model.py $(PRETRAINED_ALL) \
	    --epochs $(PRETRAINED_EPOCHS) --out $(PRETRAINED_RUNS)_released \
	    $(call resume_if,$(PRETRAINED_RUNS)_released)
	$(PY) classifier/release_model.py --measured $(PRETRAINED_RUNS)_measured \
	    --released $(PRETRAINED_RUNS)_released --domains benchmarks/results/classifier_domains \
	    --out classifier/pretrained
