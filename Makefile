# Every entry point creates .venv if it is missing and installs what it needs, at the exact
# versions of requirements/*.lock (hash-checked). PYTHON picks the interpreter that builds it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# torch is installed apart from the hashed lock: PyPI's Linux wheel is a CUDA build of several
# GB, and the CPU build is another file. TORCH_INDEX=<a CPU wheel index> picks that one.
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
# The venv's tools come first on PATH, so nbgrader finds alembic without `source activate`.
export PATH := $(abspath $(BIN)):$(PATH)

LAB_STAMP   := $(VENV)/.lab-installed
TOOLS_STAMP := $(VENV)/.tools-installed
TEST_STAMP  := $(VENV)/.test-installed

.PHONY: test lab html site check-site check-lab bench notebooks lint lock clean \
        generate autograde feedback export grade

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "lstm-teach needs Python 3.11 or newer; this is " + sys.version.split()[0] + \
	  ": run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

# The learner's set-up: numpy, matplotlib, JupyterLab and this package; no test tools, no torch.
$(LAB_STAMP): requirements/lab.lock pyproject.toml | $(BIN)/python
	@echo "Installing the course's packages into $(VENV) (requirements/lab.lock)"
	$(PIP) install -q --require-hashes --no-deps -r requirements/lab.lock
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@# matplotlib builds its font cache on first import and says so on stderr: do it here,
	@# not inside a notebook, where nbval would see the message as an unexpected output
	$(BIN)/python -c "import matplotlib.pyplot"
	touch $@

# Test tools, nbgrader, the sandbox engine and the book engine (requirements/test.lock).
$(TOOLS_STAMP): requirements/test.lock pyproject.toml | $(BIN)/python
	@echo "Installing the test, grading and site tools into $(VENV) (requirements/test.lock)"
	$(PIP) install -q --require-hashes --no-deps -r requirements/test.lock
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import matplotlib.pyplot"
	touch $@ $(LAB_STAMP)

$(TEST_STAMP): $(TOOLS_STAMP)
	$(PIP) install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PIP) check
	touch $@

test: $(TEST_STAMP)
	$(BIN)/ruff check lstm_teach tests benchmarks tools
	$(BIN)/python -m pytest

# Jupyter refuses to run as root without --allow-root (containers, CI); users are not root.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) $(LAB_ARGS) notebooks/01_start_here.ipynb

# Re-run every course notebook in a fresh kernel and store its outputs (what nbval compares).
notebooks: $(TEST_STAMP)
	$(BIN)/python tools/run_notebooks.py

# The course as a book in site/ (Jupyter Book, MathJax served from the site itself).
html site: $(TOOLS_STAMP)
	$(BIN)/python tools/build_site.py

# Opens every page of the built site in headless Chromium with the network blocked.
check-site: $(TOOLS_STAMP)
	$(BIN)/python tools/build_site.py
	$(BIN)/python tools/check_site.py

# Opens every course notebook in a real JupyterLab: opening must not mark it modified.
check-lab: $(TOOLS_STAMP)
	$(BIN)/python tools/check_lab.py

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(TOOLS_STAMP)
	$(BIN)/ruff check lstm_teach tests benchmarks tools

# Re-resolve the locks from pyproject.toml (needs the package index; see README).
lock: | $(BIN)/python
	$(PIP) install -q "uv==0.13.9"
	$(BIN)/python tools/lock.py

# The instructor's nbgrader steps, run in exercises/ with the venv on PATH:
#   make generate ASSIGNMENT=a1_cell_forward     make autograde ASSIGNMENT=a1_cell_forward
#   make feedback ASSIGNMENT=a1_cell_forward     make export     make grade [ASSIGNMENT=...]
ASSIGNMENT ?= $(error name one: make $@ ASSIGNMENT=a1_cell_forward)
generate: $(TOOLS_STAMP)
	cd exercises && nbgrader generate_assignment $(ASSIGNMENT) --force
autograde: $(TOOLS_STAMP)
	cd exercises && nbgrader autograde $(ASSIGNMENT) --create
feedback: $(TOOLS_STAMP)
	cd exercises && nbgrader generate_feedback $(ASSIGNMENT)
export: $(TOOLS_STAMP)
	cd exercises && nbgrader export
# Marks that count: every submission in its own sandbox (README, "Grade with lstm-teach grade").
grade: $(TOOLS_STAMP)
	cd exercises && lstm-teach grade --course . --assignment $(if $(filter command line,$(origin ASSIGNMENT)),$(ASSIGNMENT),all)

clean:
	rm -rf $(VENV) build site *.egg-info
