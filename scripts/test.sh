#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: lint, types, import layering, unit, API, CLI, kernel, e2e.
# Exits non-zero on any failure. Kernel and e2e tests need root; they are skipped (and said so) without.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check osdn tests bench
echo "== mypy"
mypy osdn
echo "== import layering"
lint-imports pyproject.toml
echo "== pytest"
# Two workers (the machines have 2 cores); a test file stays on one worker, so a module's lab is
# brought up once. Labs, namespaces and ports are named per process, so workers never collide.
# --durations=25: CI output ends with the slowest tests, so the suite's runtime stays visible.
python -m pytest tests -q -p no:cacheprovider -n 2 --dist loadfile --durations=25 "$@"
