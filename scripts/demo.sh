#!/usr/bin/env bash
# Set up this machine (idempotent) and run the main job: an osdn lab with the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
exec osdn lab up --demo "$@"
