# Everything a fresh machine needs: `make demo` and `make test` set themselves up.
#
# Two environments, because MediaPipe's legacy Holistic solution (extraction only) needs numpy < 2 and a CPython
# up to 3.12, while the rest of mmprep runs anywhere from 3.11 on:
#   .venv       full: mmprep[dev,mediapipe], the exact versions of constraints.txt (numpy 1.26, protobuf 4.25)
#   .venv-core  core: mmprep[dev] without MediaPipe, constraints-core.txt (numpy 2, current protobuf, tensorboard)
PYTHON      ?= python3
CORE_PYTHON ?= $(PYTHON)
VENV        := .venv
CORE        := .venv-core
PY          := $(VENV)/bin/python
CORE_PY     := $(CORE)/bin/python
STAMP       := $(VENV)/.mmprep-setup
CORE_STAMP  := $(CORE)/.mmprep-setup
# torch first, pinned: pip takes the CPU build from disk; an unpinned torch would download a CUDA build.
TORCH       := torch==2.13.0
PYTEST      := -m pytest -q

.PHONY: setup test test-full test-core lint demo bench clean

setup: $(STAMP) $(CORE_STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(None if (3, 11) <= sys.version_info[:2] <= (3, 12) else "the full environment (MediaPipe 0.10.21) needs CPython 3.11 or 3.12: make PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,mediapipe]"
	touch $(STAMP)

$(CORE_STAMP): pyproject.toml constraints-core.txt
	@$(CORE_PYTHON) -c 'import sys; sys.exit(None if sys.version_info[:2] >= (3, 11) else "mmprep needs CPython 3.11 or newer")'
	test -x $(CORE_PY) || $(CORE_PYTHON) -m venv $(CORE)
	$(CORE_PY) -m pip install --quiet --upgrade pip
	$(CORE_PY) -m pip install --quiet $(TORCH)
	$(CORE_PY) -m pip install --quiet -c constraints-core.txt -e ".[dev]"
	touch $(CORE_STAMP)

# Both suites: the full environment runs every test (the crossing one runs commands in the core environment
# too); the core one every test that needs no MediaPipe. Each summary says how many ran there.
test: test-full test-core

test-full: setup
	MMPREP_CORE_PYTHON=$(abspath $(CORE_PY)) $(PY) $(PYTEST)

test-core: $(CORE_STAMP)
	$(CORE_PY) $(PYTEST)

lint: $(STAMP)
	$(VENV)/bin/ruff check prep tests scripts
	$(VENV)/bin/ruff format --check prep tests scripts

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) scripts/bench.py

clean:
	rm -rf $(VENV) $(CORE) demo bench-out .pytest_cache
