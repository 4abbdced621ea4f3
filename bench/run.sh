#!/usr/bin/env bash
# Prepares the contenders (each in its own virtualenv) and runs the benchmark.
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
py312=""
for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V) \
         $(command -v python3.12 python3.13 2>/dev/null); do
  if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then py312=$c; break; fi
done
[ -n "$py312" ] || { echo "the reference package needs Python >= 3.12" >&2; exit 2; }
if [ ! -x .venv-ref/bin/python ]; then
  "$py312" -m venv .venv-ref
  .venv-ref/bin/pip install -q "django-bolt==0.13.0" "django>=5.2,<7"
fi
if [ ! -x .venv-ninja/bin/granian ]; then
  "$py312" -m venv .venv-ninja
  .venv-ninja/bin/pip install -q granian django-ninja "django>=5.2,<7"
fi
mkdir -p out
../.venv/bin/python project/manage.py migrate --noinput -v0
exec ../.venv/bin/python bench.py "$@"
