#!/usr/bin/env bash
# Prepares the contenders (each in its own virtualenv) and runs the benchmark.
set -euo pipefail
# A relative --output is taken from where run.sh was called.
export BENCH_CALLER_DIR="$PWD"
cd "$(dirname "$0")"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# Every contender runs on the same interpreter as ours (the reference needs >= 3.12).
py=$(../.venv/bin/python -c 'import sys; print(sys._base_executable)')
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' \
  || { echo "the reference package needs Python >= 3.12; rebuild .venv with one" >&2; exit 2; }
want=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for v in .venv-ref .venv-ninja; do
  if [ -x "$v/bin/python" ] && [ "$("$v/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$want" ]; then
    rm -rf "$v"
  fi
done
if [ ! -x .venv-ref/bin/python ]; then
  "$py" -m venv .venv-ref
  .venv-ref/bin/pip install -q "django-bolt==0.13.0" "django>=5.2,<7"
fi
if [ ! -x .venv-ninja/bin/granian ]; then
  "$py" -m venv .venv-ninja
  .venv-ninja/bin/pip install -q granian django-ninja "django>=5.2,<7"
fi
if [ ! -x .venv-whitenoise/bin/gunicorn ]; then
  "$py" -m venv .venv-whitenoise
  .venv-whitenoise/bin/pip install -q gunicorn whitenoise "django>=5.2,<7"
fi
mkdir -p out/static-src/bench
../.venv/bin/python project/manage.py migrate --noinput -v0
# Two static files of the sizes a site serves most (a 10 KB stylesheet, a 200 KB script),
# collected with hashed names and precompressed siblings.
../.venv/bin/python - <<'PY'
import random
rng = random.Random(7)
words = ["margin", "padding", "color", "border", "display", "flex", "grid", "width", "auto"]
css = "".join(f".c{i} {{ {rng.choice(words)}: {rng.randint(0, 99)}px; {rng.choice(words)}: 0; }}\n" for i in range(400))
open("out/static-src/bench/site.css", "w").write(css[:10 * 1024])
js = "".join(f"function f{i}(a, b) {{ return a * {rng.randint(1, 999)} + b - {rng.choice(words)}.length; }}\n" for i in range(4000))
open("out/static-src/bench/app.js", "w").write(js[:200 * 1024])
PY
BENCH_STATIC_STORAGE=django_bolt.contrib.static.storage.CompressedManifestStaticFilesStorage \
  ../.venv/bin/python project/manage.py collectstatic --noinput -v0
# 200 users for the model ViewSet endpoints.
../.venv/bin/python project/manage.py shell -v0 -c "
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.bulk_create([User(username=f'user{i:04d}', email=f'user{i}@example.com',
    first_name='First', last_name=f'Last{i}') for i in range(User.objects.count(), 200)])"
exec ../.venv/bin/python bench.py "$@"
