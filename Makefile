# The README's two commands: `make demo` and `make test`.
# Each creates .venv, installs the pinned stack (requirements/ci.txt) and
# keras_kd, and installs Debian's Fashion-MNIST package when it can (root on
# Debian); elsewhere the loader falls back to Keras's download.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR := /usr/share/datasets/fashion-mnist

.PHONY: demo test test-fast venv data benchmarks clean

venv: $(STAMP)

$(STAMP): requirements/ci.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/ci.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

data:
	@if [ -d "$(DATA_DIR)" ]; then \
		echo "Fashion-MNIST: $(DATA_DIR)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) \
		|| echo "Could not install dataset-fashion-mnist; Keras's downloader will be used."; \
	else \
		echo "No $(DATA_DIR) and no root apt-get; Keras's downloader will be used."; \
	fi

demo: venv data
	$(BIN)/keras-kd demo $(ARGS)

test: venv data
	$(BIN)/python -m pytest -q tests $(ARGS)

test-fast: venv data
	$(BIN)/python -m pytest -q -m "not slow" tests $(ARGS)

benchmarks: venv data
	$(BIN)/python benchmarks/step_overhead.py
	$(BIN)/python benchmarks/fashion_mnist.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
