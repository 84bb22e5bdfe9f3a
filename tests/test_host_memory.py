"""The ttjax command restarts once with malloc on transparent huge pages (_host_memory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ttjax._host_memory import DISABLE_ENV, TUNABLE, _is_glibc, tunables_with_huge_pages

ROOT = Path(__file__).resolve().parents[1]

# prints the tunables it runs with, then asks to restart, then says it went on
PROBE = """
import os
from ttjax._host_memory import reexec_with_huge_pages
print("run", os.environ.get("GLIBC_TUNABLES"), flush=True)
reexec_with_huge_pages()
print("continued", flush=True)
"""

needs_glibc = pytest.mark.skipif(not _is_glibc(), reason="glibc tunables are Linux/glibc only")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", DISABLE_ENV)}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def _lines(env: dict[str, str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()


def test_tunables_are_added_once_and_the_users_choice_is_kept():
    assert tunables_with_huge_pages("") == TUNABLE
    assert tunables_with_huge_pages("a.b=1::c.d=2") == f"a.b=1:c.d=2:{TUNABLE}"
    assert tunables_with_huge_pages(TUNABLE) is None
    assert tunables_with_huge_pages("x.y=3:glibc.malloc.hugetlb=2") is None


@needs_glibc
def test_restarts_exactly_once_with_the_tunable_set():
    assert _lines(_env()) == ["run None", f"run {TUNABLE}", "continued"]


@needs_glibc
def test_existing_tunables_are_kept_on_restart():
    lines = _lines(_env(GLIBC_TUNABLES="glibc.malloc.arena_max=2"))
    assert lines == ["run glibc.malloc.arena_max=2",
                     f"run glibc.malloc.arena_max=2:{TUNABLE}", "continued"]  # fmt: skip


def test_the_env_switch_turns_it_off():
    assert _lines(_env(**{DISABLE_ENV: "1"})) == ["run None", "continued"]


def test_a_python_caller_of_main_is_never_restarted():
    from ttjax.cli._main import _is_ttjax_process

    assert not _is_ttjax_process()  # pytest's process: main([...]) must not re-execute it
