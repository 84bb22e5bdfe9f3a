#!/usr/bin/env bash
# The project's test command (README): lint, format check, type check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# The python whose packages are tested: $PYTHON if set, else the first python3 on PATH
# (.ci/run puts its fresh virtual environment first).
PY="${PYTHON:-python3}"
"$PY" -m ruff check ttjax tests scripts
"$PY" -m ruff format --check ttjax tests scripts
"$PY" -m pyright
# Docstring examples, in their own process: tests/conftest.py turns on float64 globally.
"$PY" -m pytest -q -p no:cacheprovider --doctest-modules ttjax
"$PY" -m pytest -q --durations=15 "$@"
