"""One real benchmark case end to end on the tiny model, with a learning rate set relative to
the stability edge (``lr_fraction``)."""

from __future__ import annotations

import dataclasses

import jax
import pytest

from ttjax._errors import ConfigError
from ttjax.benchmark import evaluate_case, resolved_hparams
from ttjax.benchmark._grid import GridPreset, benchmark_grid


def test_lr_fraction_resolves_below_the_edge_and_is_recorded():
    case = dataclasses.replace(benchmark_grid(preset=GridPreset.TINY)[0], lr_fraction=0.5)
    out = evaluate_case(case, jax.random.key(0))
    limit = out["max_stable_lr"]
    assert limit > 0
    assert out["hparams_resolved"]["lr"] == pytest.approx(0.5 * limit, rel=1e-12)
    record = {"case": case.to_dict(), **out}
    assert resolved_hparams(record)["lr"] == out["hparams_resolved"]["lr"]
    assert case.to_dict()["lr_fraction"] == 0.5
    assert set(out["real"]) == set(out["predicted"])  # every ε compared
    assert out["timing_s"]["predict"] >= out["ntk_time_s"]


def test_bad_lr_fraction_and_method_are_refused():
    base = benchmark_grid(preset=GridPreset.TINY)[0]
    with pytest.raises(ConfigError, match="lr_fraction"):
        dataclasses.replace(base, lr_fraction=1.5)
    with pytest.raises(ConfigError, match="ntk_method"):
        dataclasses.replace(base, ntk_method="magic")
