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

.PHONY: help venv build system-deps ci-services run test test-rust test-python test-django52 lint fmt bench bench-ws clean

help:
	@echo "make run    build, migrate and collectstatic the SQLite testproject, serve it on $(HOST):$(PORT)"
	@echo "make test   lint, cargo test and the pytest suite"
	@echo "make bench  the side-by-side benchmark (see bench/README.md)"
	@echo "make bench-ws  the WebSocket benchmark"

# What the suite needs besides Django (both venvs: the 5.2 run is the whole suite too).
TEST_DEPS := "maturin>=1.9.4,<2" "msgspec>=0.19" "httpx>=0.27" "pytest>=8" "pytest-django>=4.9" \
    "pytest-timeout>=2.3" "pytest-asyncio>=0.24" "websockets>=12" "psycopg[binary]>=3.1" \
    "playwright>=1.45" "redis>=5" "brotli>=1.1" "zstandard>=0.22" "channels>=4.1" \
    "openapi-spec-validator>=0.7" "schemathesis>=4.1" "trustme>=1.1" "h2>=4.1" \
    "prometheus-client>=0.20" "cryptography>=42"

$(VENV)/.deps: pyproject.toml Makefile
	@if [ ! -x "$(PY)" ]; then py="$$($(FIND_PYTHON))"; echo "creating $(VENV) with $$py"; "$$py" -m venv "$(VENV)"; fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "django>=5.2,<7" $(TEST_DEPS) "ruff>=0.6" "mypy>=1.18"
	touch $@

venv: $(VENV)/.deps

build: venv
	maturin develop --release -q
	$(PY) -m django_bolt.openapi.assets --check

run: build
	cd testproject && $(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py collectstatic --noinput -v0 && \
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

# Debian's packages the suite drives: Chromium for the browser tests (Playwright drives
# it) and nginx for the deploy site `init` writes, run in front of runbolt.
system-deps:
	@need=(); command -v chromium >/dev/null || need+=(chromium); \
	  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light); \
	  if [ $${#need[@]} -gt 0 ]; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$${need[@]}"; \
	    else echo "install Debian's $${need[*]} (sudo apt-get install $${need[*]}) for the browser and proxy tests" >&2; exit 1; fi; \
	  fi

# Under CI every service the suite uses must be configured (locally they are optional).
ci-services:
	@if [ "$${CI:-}" = true ]; then \
	  for v in DATABASE_URL REDIS_URL; do \
	    if [ -z "$$(printenv $$v)" ]; then echo "CI=true needs $$v (PostgreSQL and Redis tests)" >&2; exit 1; fi; \
	  done; \
	fi

test-python: build system-deps ci-services
	$(PY) -m mypy.stubtest django_bolt._core
	$(PY) -m pytest
	@if [ -n "$${DATABASE_URL:-}" ]; then \
	  echo "ORM tests again on $${DATABASE_URL%%\?*}"; \
	  BOLT_TEST_DATABASE_URL="$$DATABASE_URL" $(PY) -m pytest -m orm -q; \
	fi

# The suite again with Django 5.2 LTS (the main venv has the newest Django).
DJ52 := .venv-django52
$(DJ52)/.deps: pyproject.toml Makefile
	@if [ ! -x "$(DJ52)/bin/python" ]; then "$$($(PY) -c 'import sys; print(sys._base_executable)')" -m venv $(DJ52); fi
	$(DJ52)/bin/python -m pip install -q --upgrade pip
	$(DJ52)/bin/python -m pip install -q "django>=5.2,<5.3" $(TEST_DEPS)
	touch $@

test-django52: build system-deps $(DJ52)/.deps
	VIRTUAL_ENV=$(abspath $(DJ52)) maturin develop --release -q
	$(DJ52)/bin/python -c 'import django; assert django.VERSION[:2] == (5, 2), django.VERSION'
	$(DJ52)/bin/python -m pytest -q

test: lint test-rust test-python test-django52

bench: build
	bash bench/run.sh

bench-ws: build
	bash bench/ws.sh

clean:
	rm -rf target $(VENV) $(DJ52) django_bolt/*.so
