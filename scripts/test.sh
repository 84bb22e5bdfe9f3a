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
# pytest-xdist runs the tests on every core, at most 4 (each worker holds a JAX runtime);
# TTJAX_TEST_WORKERS=0 runs them in this process.
WORKERS="${TTJAX_TEST_WORKERS:-$("$PY" -c 'import os
n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
print(min(4, n or 1))')}"
# Docstring examples, in their own process: tests/conftest.py turns on float64 globally.
"$PY" -m pytest -q -p no:cacheprovider --doctest-modules -n "$WORKERS" --dist worksteal ttjax
"$PY" -m pytest -q --durations=15 -n "$WORKERS" --dist worksteal "$@"
