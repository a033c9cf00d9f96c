#!/usr/bin/env bash
# Set up, then run the default test suite (unit, property and RTL regression tests).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long RTL regression.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
