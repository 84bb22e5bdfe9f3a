"""Kill a benchmark subprocess after its first record, rerun: no duplicates, all cases done.

The subprocess runs the TINY grid through ``run_benchmark`` with an evaluator that sleeps per
case (real predict/finetune on the tiny grid take minutes on a shared 2-core CPU; the resume
logic under test does not depend on what the evaluator computes).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ttjax.benchmark import read_records
from ttjax.benchmark._grid import GridPreset, benchmark_grid

SCRIPT = """
import sys, time, jax
from ttjax.benchmark import run_benchmark
from ttjax.benchmark._grid import GridPreset, benchmark_grid
def slow(case, key):
    time.sleep(float(sys.argv[2]))
    seed = int(jax.random.key_data(key)[-1])
    return {"predicted": {}, "real": {}, "cost_ratio": 1.0, "seed": seed}
run_benchmark(benchmark_grid(preset=GridPreset.TINY), path=sys.argv[1], key=jax.random.key(0),
              evaluate=slow, progress=False)
"""


def test_resume_after_kill(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), "3.0"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not read_records(out):
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    first = read_records(out)
    n_cases = len(benchmark_grid(preset=GridPreset.TINY))
    assert 1 <= len(first) < n_cases  # killed mid-run, after the first record
    subprocess.run([sys.executable, "-c", SCRIPT, str(out), "0.0"], check=True, timeout=120)
    recs = read_records(out)
    keys = [r["key"] for r in recs]
    assert len(keys) == len(set(keys)) == n_cases
    assert recs[: len(first)] == first  # nothing lost or rewritten
