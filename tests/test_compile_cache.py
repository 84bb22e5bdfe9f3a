"""The CLI's persistent compilation cache: written once, read back, off on demand.

Each run is a separate process (the cache is per process state in JAX); the cache folder is a
temporary ``$TTJAX_CACHE``, never ``~/.cache``. Hits and misses are counted with JAX's own
monitoring events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ttjax._compile_cache import (
    DISABLE_ENV,
    cli_compilation_cache,
    compilation_cache_disabled_by_env,
    default_compilation_cache_dir,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ["predict", "--model", "tiny", "--weights", "none", "--classes", "3", "--per-class", "5",
        "--image-size", "16", "--steps", "10", "--paths", "2", "--no-progress"]  # fmt: skip
RUN = """
import json, sys
from collections import Counter
import jax.monitoring
events = Counter()
jax.monitoring.register_event_listener(lambda name, **kw: events.update([name]))
from ttjax.cli import main
rc = main(sys.argv[1:])
print("EVENTS" + json.dumps({"rc": rc, **events}))
"""


def _run(cache: Path, *argv: str, disable_env: bool = False) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k not in (DISABLE_ENV, "TTJAX_COMPILE_CACHE_DIR")}
    env.update(TTJAX_CACHE=str(cache), JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    if disable_env:
        env[DISABLE_ENV] = "1"
    proc = subprocess.run([sys.executable, "-c", RUN, *argv], env=env, capture_output=True,
                          text=True, timeout=240, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("EVENTS"))
    events = json.loads(line[len("EVENTS") :])
    assert events["rc"] == 0
    return {k.rsplit("/", 1)[-1]: v for k, v in events.items()}


def test_second_predict_reads_what_the_first_wrote(tmp_path):
    folder = tmp_path / "jax_compilation_cache"
    first = _run(tmp_path, *TINY)
    written = set(folder.iterdir())
    assert first.get("cache_misses", 0) >= 1 and first.get("cache_hits", 0) == 0, first
    assert written, "nothing was written to the cache"
    second = _run(tmp_path, *TINY)
    # every program the first run wrote is read back instead of compiled again
    assert second.get("cache_hits", 0) >= len(written), (second, sorted(written))


@pytest.mark.parametrize("how", ["flag", "env"])
def test_cache_can_be_turned_off(tmp_path, how):
    argv = [*TINY, "--no-compile-cache"] if how == "flag" else TINY
    events = _run(tmp_path, *argv, disable_env=how == "env")
    assert "cache_hits" not in events and "cache_misses" not in events, events
    assert not (tmp_path / "jax_compilation_cache").exists()


def test_env_switch_and_default_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("TTJAX_CACHE", str(tmp_path))
    monkeypatch.delenv("TTJAX_COMPILE_CACHE_DIR", raising=False)
    assert default_compilation_cache_dir() == tmp_path / "jax_compilation_cache"
    monkeypatch.setenv("TTJAX_COMPILE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_compilation_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("TTJAX_COMPILE_CACHE_DIR")
    monkeypatch.setenv(DISABLE_ENV, "1")
    assert compilation_cache_disabled_by_env()
    assert cli_compilation_cache(disabled=False) is None
    monkeypatch.setenv(DISABLE_ENV, "0")
    assert not compilation_cache_disabled_by_env()
    assert cli_compilation_cache(disabled=True) is None
    assert not (tmp_path / "jax_compilation_cache").exists()


DATA_AS_ARGUMENT = """
import json, sys
from collections import Counter
import jax, jax.monitoring, jax.numpy as jnp
from ttjax import Hyperparams, Loss
from ttjax._compile_cache import enable_compilation_cache
from ttjax.train import walk_predicted_path
from ttjax.train._observe import gradient_probe
enable_compilation_cache(sys.argv[1], min_compile_time_s=0.0)
events = Counter()
jax.monitoring.register_event_listener(lambda name, **kw: events.update([name.rsplit("/", 1)[-1]]))
v = jax.random.normal(jax.random.key(8), (8, 3))
f = lambda w, x: jnp.tanh(x @ w) @ v
w = 0.3 * jax.random.normal(jax.random.key(9), (6, 8))
misses = []
for seed in (0, 1):  # two training sets of the same shape, as for two tasks
    x = jax.random.normal(jax.random.key(seed), (12, 6))
    y = jnp.arange(12) % 3
    gradient_probe(f, x, y, loss=Loss.CE)(w)
    jac = jax.vmap(lambda xi: jax.jacobian(lambda p: f(p, xi[None])[0])(w).reshape(3, -1))(x)
    theta = jnp.einsum("iap,jbp->iajb", jac, jac).reshape(36, 36)
    walk_predicted_path(f, w, x, y, theta, Hyperparams(lr=0.05, steps=12), budget=6)
    misses.append(events["cache_misses"])
print("MISSES" + json.dumps(misses))
"""


def test_the_training_set_is_an_argument_of_the_compiled_programs(tmp_path):
    """The path walk and the gradient probe pass the data into their compiled programs: a
    second task of the same shape reuses every cached program (a closed-over training set was
    baked in as a constant — constant-folded by XLA, minutes at N = 750, and a cache entry per
    task)."""
    env = {k: v for k, v in os.environ.items() if k not in (DISABLE_ENV, "TTJAX_COMPILE_CACHE_DIR")}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-c", DATA_AS_ARGUMENT, str(tmp_path / "cache")]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("MISSES"))
    first, both = json.loads(line[len("MISSES") :])
    assert first >= 2, first  # the probe and the walk's programs were compiled and written
    assert both == first, f"the second task compiled {both - first} program(s) again"
