# One entry point for the course. `make lab` to study, `make test` to check everything.
SHELL := /bin/bash
.DELETE_ON_ERROR:
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA := data/mnist.npz
CLASSIFIER := data/mnist_classifier_v2.weights.h5
PORT ?= 8888
NOTEBOOK_DIR ?= notebooks
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)  # Jupyter refuses root without it

.PHONY: help setup browser sandbox lab test test-colab unit lint execute bench margins badges student \
	book slides grade clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

setup: $(STAMP) $(DATA) browser sandbox  ## Create .venv, install the course and its tools, prepare MNIST (skips what is done)

# The browser test drives Debian's Chromium (no browser download): install it where we may.
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell sudo -n true 2>/dev/null && echo sudo -n))
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	|| { command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ]; } \
	     && echo "Installing Debian's chromium for the browser test" \
	     && $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } \
	|| echo "Note: no Chromium, and it cannot be installed here; the browser test will be skipped."

# `make grade` runs each student's notebook in a bubblewrap sandbox (read-only file system): install it where we may.
sandbox:
	@command -v bwrap >/dev/null \
	|| { command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ]; } \
	     && echo "Installing Debian's bubblewrap for make grade" \
	     && $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq bubblewrap >/dev/null; } \
	|| echo "Note: no bubblewrap, and it cannot be installed here: make grade will refuse to run submissions."

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@mkdir -p $(VENV)/etc/ipython  # kernels of this venv: C++ log lines (TensorFlow) go to the terminal
	@echo "c.IPKernelApp.capture_fd_output = False" > $(VENV)/etc/ipython/ipython_kernel_config.py
	@touch $@

$(DATA): $(STAMP)
	$(BIN)/python -m helpers.data

# The classifier that scores notebooks 06 and 08, trained once (about 10 minutes on 2 cores) and cached.
# `make test` prepares it before the suite; in `make lab`, notebook 06 trains it on first use.
$(CLASSIFIER): | $(DATA)
	$(BIN)/python -m helpers.classifier --out $@

lab: setup  ## Start JupyterLab on notebooks/ (it prints the URL with its token); RISE presents a notebook as slides
	@echo "Starting JupyterLab on $(NOTEBOOK_DIR); open the http://127.0.0.1:...?token=... URL printed below."
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOK_DIR) --no-browser --ServerApp.ip=127.0.0.1 \
		--ServerApp.port=$(PORT) $(ROOT_FLAG)

# Every notebook runs once: notebook 01 in the browser test where Chromium is installed, the rest under nbval.
CHROMIUM = $(shell command -v chromium || command -v chromium-browser)
NBVAL_SKIP = $(if $(CHROMIUM),--ignore=notebooks/01_autoencoder.ipynb,)

test: setup lint $(CLASSIFIER)  ## Unit tests + every notebook in quick mode (nbval; 01 in a real browser)
	COURSE_QUICK=1 $(BIN)/python -m pytest tests notebooks $(NBVAL_SKIP) \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider

test-colab: $(CLASSIFIER)  ## The course in a Colab-like runtime (Python 3.13, Colab's package versions), quick mode
	bash tests/colab/run.sh

unit: setup  ## Unit tests of helpers only
	$(BIN)/python -m pytest tests -p no:cacheprovider

lint: setup  ## ruff on the package, the tests, the benchmarks and the notebooks' code
	$(BIN)/ruff check helpers tools tests benchmarks notebooks

margins: setup $(CLASSIFIER)  ## Every statistical check under 5 seeds: benchmarks/margins.md (about 50 min; PART=tests or NOTEBOOKS="05_conv_vae 08_cgan" re-measures a subset)
	$(BIN)/python -m benchmarks.margins $(if $(SEEDS),--seeds $(SEEDS),) $(if $(PART),--part $(PART),) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS),)

bench: setup $(CLASSIFIER)  ## Benchmarks (conv VAE vs the TF tutorial; scores of 06 and 08; CGAN vs keras-io; evaluation protocols): results.* and README (PART=vae|conditional|cgan|protocol, COLLECT=1)
	$(BIN)/python -m benchmarks.bench $(if $(PART),--part $(PART),) $(if $(COLLECT),--collect,)

badges: setup  ## Point Colab badges and set-up cells at a fork: make badges REPO=owner/name
	$(BIN)/python -m tools.admin badges $(if $(REPO),--repo $(REPO),)

student: setup  ## Student copies of the notebooks, solutions removed, in student/ (or OUT=folder)
	$(BIN)/python -m tools.admin student --out $(or $(OUT),student)

book: setup  ## The course website from the committed notebooks, offline: outputs/book/_build/html
	$(BIN)/python -m tools.book

slides: setup  ## A reveal.js deck per notebook that works offline: outputs/slides/*.slides.html
	$(BIN)/python -m tools.slides build

grade: setup $(CLASSIFIER)  ## Grade SUBMISSIONS=DIR (a folder per student) in a sandbox: DIR/gradebook.csv
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder (one subfolder per student)"; exit 2; }
	$(BIN)/python -m tools.grade "$(SUBMISSIONS)" $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS),) \
		$(if $(TIME_LIMIT),--seconds $(TIME_LIMIT),) $(GRADE_ARGS)

execute: setup $(CLASSIFIER)  ## Re-run the notebooks in FULL mode, outputs saved in place, and time them (NOTEBOOKS=, MODE=quick)
	$(BIN)/python -m benchmarks.execute $(if $(MODE),--mode $(MODE),) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS),)

clean:  ## Remove generated outputs (keeps .venv and the data cache)
	rm -rf outputs student .pytest_cache .ruff_cache
