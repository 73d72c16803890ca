# One entry point for the course. `make lab` to study, `make test` to check it; `make help` lists the rest.
SHELL := /bin/bash
.DELETE_ON_ERROR:
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA := data/mnist.npz
CLASSIFIER := data/mnist_classifier_v2.weights.h5
PORT ?= 8888
NOTEBOOK_DIR ?= notebooks
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)# Jupyter refuses root without it
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
# How the notebooks run under nbval, here and in tools/margins.py and tests/colab/run.sh (which read this line).
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900

.PHONY: help setup lab test unit test-classroom test-colab lint browser sandbox npm execute bench margins \
	badges student book slides grade clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

# ---------------------------------------------------------------- the environment, one extra per role
$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# .venv/.lab-stamp, .test-stamp, .teach-stamp: the course with pyproject's extra of that name.
$(VENV)/.%-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$*]"
	@mkdir -p $(VENV)/etc/ipython  # kernels of this venv: C++ log lines (TensorFlow) go to the terminal
	@echo "c.IPKernelApp.capture_fd_output = False" > $(VENV)/etc/ipython/ipython_kernel_config.py
	@touch $@

$(DATA): | $(VENV)/.lab-stamp
	$(BIN)/python -m helpers.data

# The classifier that scores notebooks 06, 08 and 09, trained once (benchmarks/timings.md has its time) and cached.
# `make test` prepares it before the suite; in `make lab`, notebook 06 trains it on first use.
$(CLASSIFIER): | $(DATA)
	$(BIN)/python -m helpers.classifier --out $@

setup: $(VENV)/.lab-stamp $(DATA)  ## Create .venv with the course and JupyterLab, prepare MNIST (skips what is done)

# ---------------------------------------------------------------- a student's two commands
lab: setup  ## Start JupyterLab on notebooks/ (it prints the URL with its token); RISE presents a notebook as slides
	@echo "Starting JupyterLab on $(NOTEBOOK_DIR); open the http://127.0.0.1:...?token=... URL printed below."
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOK_DIR) --no-browser --ServerApp.ip=127.0.0.1 \
		--ServerApp.port=$(PORT) $(ROOT_FLAG)

test: $(VENV)/.test-stamp $(DATA) lint $(CLASSIFIER)  ## Lint, unit tests and every notebook in quick mode (nbval)
	COURSE_QUICK=1 $(PYTEST) -m "not classroom and not bench" tests notebooks $(NBVAL)

unit: $(VENV)/.test-stamp $(DATA)  ## The fast unit tests (no training, no classroom kit)
	$(PYTEST) -m "not slow and not classroom and not bench" tests

lint: $(VENV)/.test-stamp  ## ruff on the package, the tools, the tests, the benchmarks and the notebooks' code
	$(BIN)/ruff check helpers tools tests benchmarks notebooks

# ---------------------------------------------------------------- the instructor's kit, installed on first use
# Debian's Chromium (browser tests), bubblewrap (grading) and npm (book, slides), installed where we may.
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell sudo -n true 2>/dev/null && echo sudo -n))
define apt_install  # $(1): the command, $(2): the Debian package, $(3): what needs it
	@command -v $(1) >/dev/null \
	|| { command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ]; } \
	     && echo "Installing Debian's $(2) for $(3)" \
	     && $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(2) >/dev/null; } \
	|| echo "Note: $(3) needs $(2), which is missing and cannot be installed here (sudo apt-get install $(2))."
endef
browser:
	$(call apt_install,chromium,chromium,the browser tests)
sandbox:
	$(call apt_install,bwrap,bubblewrap,make grade)
npm: browser  # after browser: one apt-get at a time
	$(call apt_install,npm,npm,make book and make slides)

test-classroom: $(VENV)/.test-stamp $(VENV)/.teach-stamp $(CLASSIFIER) sandbox npm  ## The kit's tests (grading sandbox, Binder, book, slides, JupyterLab in Chromium) and the benchmarks'
	COURSE_QUICK=1 $(PYTEST) -m "classroom or bench" tests

test-colab: $(CLASSIFIER)  ## The course in a Colab-like runtime (Python 3.13, Colab's package versions), quick mode
	bash tests/colab/run.sh

badges: setup  ## Point Colab badges and set-up cells at a fork: make badges REPO=owner/name
	$(BIN)/python -m tools.admin badges $(if $(REPO),--repo $(REPO),)

student: setup  ## Student copies of the notebooks, solutions removed, in student/ (or OUT=folder)
	$(BIN)/python -m tools.admin student --out $(or $(OUT),student)

book: $(VENV)/.teach-stamp npm  ## The course website from the committed notebooks, offline: outputs/book/_build/html
	$(BIN)/python -m tools.book

slides: $(VENV)/.teach-stamp npm  ## A reveal.js deck per notebook that works offline: outputs/slides/*.slides.html
	$(BIN)/python -m tools.slides build

grade: $(VENV)/.teach-stamp $(CLASSIFIER) sandbox  ## Grade SUBMISSIONS=DIR (a folder per student) in a sandbox: DIR/gradebook.csv
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder (one subfolder per student)"; exit 2; }
	$(BIN)/python -m tools.grade "$(SUBMISSIONS)" $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS),) \
		$(if $(TIME_LIMIT),--seconds $(TIME_LIMIT),) $(GRADE_ARGS)

# ---------------------------------------------------------------- the maintainer's measurements
execute: $(VENV)/.test-stamp $(CLASSIFIER)  ## Re-run the notebooks in FULL mode, outputs saved in place, and time them (NOTEBOOKS=, MODE=quick)
	$(BIN)/python -m tools.execute $(if $(MODE),--mode $(MODE),) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS),)

bench: $(VENV)/.test-stamp $(CLASSIFIER)  ## Benchmarks (PART=vae|conditional|cgan|protocol, COLLECT=1): benchmarks/results.*; PART=cgan-goals: 08's goals over 3 seeds; PART=cgan-yardstick: 08's saved generator against 8 yardsticks
	$(BIN)/python -m benchmarks.bench $(if $(PART),--part $(PART),) $(if $(COLLECT),--collect,)

margins: $(VENV)/.test-stamp $(CLASSIFIER)  ## Every statistical check under 5 seeds: benchmarks/margins.md (about 50 min; PART=tests or NOTEBOOKS=...; FULL=1: full-mode bounds, margins-full.md)
	$(BIN)/python -m tools.margins $(if $(SEEDS),--seeds $(SEEDS),) $(if $(PART),--part $(PART),) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS),) $(if $(FULL),--full,)

clean:  ## Remove generated outputs (keeps .venv and the data cache)
	rm -rf outputs student .pytest_cache .ruff_cache
