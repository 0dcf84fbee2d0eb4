# Every entry point creates .venv if it is missing; PYTHON picks the interpreter that builds it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lab html bench notebooks lint clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run, or pyproject.toml changed): a minute or two"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -e '.[test,html]'
	@# matplotlib builds its font cache on first import and says so on stderr; do it here,
	@# not inside a notebook, where nbval would see the message as an unexpected output
	$(BIN)/python -c "import matplotlib.pyplot"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check lstm_teach tests benchmarks tools
	$(BIN)/python -m pytest

# Jupyter refuses to run as root without --allow-root (containers, CI); users are not root.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) $(LAB_ARGS) notebooks/01_start_here.ipynb

# Re-run every course notebook in a fresh kernel and store its outputs (what nbval compares).
notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py

html: $(STAMP)
	$(BIN)/python tools/build_html.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check lstm_teach tests benchmarks tools

clean:
	rm -rf $(VENV) build site *.egg-info
