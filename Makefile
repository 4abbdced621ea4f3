# The two commands a fresh machine needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(HOME)/.cargo/bin:$(PATH)
PY := $(VIRTUAL_ENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# The newest CPython >= 3.12 on this machine (pyenv or PATH), else python3.
define FIND_PYTHON
for c in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V -r) \
         $$(command -v python3.14 python3.13 python3.12 2>/dev/null) python3; do \
  if "$$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then echo "$$c"; exit 0; fi; \
done; echo python3
endef

.PHONY: help venv build run test test-rust test-python lint fmt bench clean

help:
	@echo "make run    build, migrate the SQLite testproject and serve it on $(HOST):$(PORT)"
	@echo "make test   lint, cargo test and the pytest suite"
	@echo "make bench  the side-by-side benchmark (see bench/README.md)"

$(VENV)/.deps: pyproject.toml
	@if [ ! -x "$(PY)" ]; then py="$$($(FIND_PYTHON))"; echo "creating $(VENV) with $$py"; "$$py" -m venv "$(VENV)"; fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.9.4,<2" "django>=5.2,<7" "msgspec>=0.19" \
	    "httpx>=0.27" "pytest>=8" "pytest-django>=4.9" "pytest-timeout>=2.3" "pytest-asyncio>=0.24" \
	    "ruff>=0.6" "websockets>=12"
	touch $@

venv: $(VENV)/.deps

build: venv
	maturin develop --release -q

run: build
	cd testproject && $(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py runbolt --host $(HOST) --port $(PORT)

lint: venv
	cargo fmt --check
	ruff check django_bolt tests testproject bench
	ruff format --check django_bolt tests bench

fmt: venv
	cargo fmt
	ruff format django_bolt tests bench
	ruff check --fix django_bolt tests testproject bench

test-rust: venv
	cargo clippy --release --all-targets -- -D warnings
	LD_LIBRARY_PATH="$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')" \
	  PYO3_PYTHON=$(PY) cargo test --release --lib

test-python: build
	$(PY) -m pytest

test: lint test-rust test-python

bench: build
	bash bench/run.sh

clean:
	rm -rf target $(VENV) django_bolt/*.so
