#!/usr/bin/env bash
# Builds the WebSocket load generator and runs the side-by-side WebSocket benchmark.
set -euo pipefail
cd "$(dirname "$0")"
# The reference package (and its virtualenv) come from run.sh's setup.
if [ ! -x .venv-ref/bin/python ]; then
  py=$(../.venv/bin/python -c 'import sys; print(sys._base_executable)')
  "$py" -m venv .venv-ref
  .venv-ref/bin/pip install -q "django-bolt==0.13.0" "django>=5.2,<7"
fi
export CARGO_TARGET_DIR="${WSLOAD_TARGET_DIR:-$HOME/.cache/django_bolt/wsload-target}"
cargo build --release --quiet --manifest-path wsload/Cargo.toml
export BENCH_WSLOAD="$CARGO_TARGET_DIR/release/wsload"
mkdir -p out
../.venv/bin/python project/manage.py migrate --noinput -v0
exec ../.venv/bin/python ws_bench.py "$@"
