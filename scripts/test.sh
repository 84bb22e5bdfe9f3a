#!/usr/bin/env bash
# The project's test command (README): lint, format check, type check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check ttjax tests scripts
python3 -m ruff format --check ttjax tests scripts
python3 -m pyright
# Docstring examples, in their own process: tests/conftest.py turns on float64 globally.
python3 -m pytest -q -p no:cacheprovider --doctest-modules ttjax
python3 -m pytest -q --durations=15 "$@"
