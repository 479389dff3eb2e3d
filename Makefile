# Everything a fresh machine needs: `make demo` and `make test` set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmprep-setup
# torch first, pinned: pip takes the CPU build from disk; an unpinned torch would download a CUDA build.
TORCH  := torch==2.13.0

.PHONY: setup test lint demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "mmprep needs Python 3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check prep tests scripts
	$(VENV)/bin/ruff format --check prep tests scripts

demo: setup
	$(PY) scripts/demo.py

bench: setup
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) demo bench-out .pytest_cache
