"""The divergence rule (ttjax.classify_run) on hand-made curves, and its use by FinetuneResult."""

from __future__ import annotations

import numpy as np
import pytest

from ttjax import FinetuneResult, Hyperparams, RunStatus, classify_run
from ttjax._errors import DataError

C, D, N = RunStatus.CONVERGED, RunStatus.DIVERGED, RunStatus.NOT_DECREASING
U = RunStatus.UNSETTLED


@pytest.mark.parametrize(
    ("curve", "want"),
    [
        ([1.0, 0.5, 0.25, 0.1], C),
        ([1.0, 3.0, 2.0, 0.9], C),  # a bump below 10 × L_0 that recovers is not a divergence
        ([1.0, 11.0, 11.0, 0.5], C),  # two blown-up points out of 3 needed
        ([1.0, 11.0, 11.0, 11.0, 0.5], D),  # three blown-up points, even if it ends lower
        ([1.1, 3.5e28, 3.5e5, 6.7e5, 1.2e4, 3.3e5], D),  # measured: tiny CNN at lr 1e6
        ([1.0, 0.5, np.nan, 0.4], D),
        ([1.0, np.inf], D),
        ([1.0, 20.0], D),  # T = 1: every step blown up
        ([1.0, 1.0, 1.0], N),  # flat
        ([1.0, 0.5, 1.0], N),  # ends where it started
        ([1.0, 0.8, 1.5], N),
        ([0.0, 0.0], N),  # L_0 = 0: nothing to decrease, and no blow-up threshold
        ([1.67, 1.28, 2.50, 1.65, 1.60], U),  # measured: tiny CNN at 1.3× its lr limit
        ([1.0, 0.2, 0.65], U),  # gave back 0.45 of a 0.8 decrease: more than half
        ([1.0, 0.2, 0.55], C),  # 0.35 of 0.8: less than half
        ([1.0, 0.3, 0.35, 0.32], C),  # SGD jitter near the bottom
        ([1.0, 3.0, 0.5, 0.5], C),  # a spike that recovers and settles
    ],
)
def test_rule(curve: list[float], want: RunStatus) -> None:
    assert classify_run(np.asarray(curve)) is want


def test_rule_parameters_and_bad_input() -> None:
    curve = np.array([1.0, 4.0, 4.0, 4.0, 0.5])
    assert classify_run(curve) is C
    assert classify_run(curve, factor=3.0) is D
    assert classify_run(curve, factor=3.0, min_steps=4) is C
    assert classify_run(np.array([1.0, 0.2, 0.55]), settle=0.4) is U
    with pytest.raises(DataError, match="at least 2 points"):
        classify_run(np.array([1.0]))


def _result(loss: list[float]) -> FinetuneResult:
    c = np.asarray(loss)
    return FinetuneResult(loss=c, error=np.linspace(0.5, 0.1, c.size), step_time_s=0.1,
                          train_time_s=0.1 * (c.size - 1), compile_time_s=0.0, eval_time_s=0.0,
                          hparams=Hyperparams(), batch_size=4, num_examples=4)  # fmt: skip


def test_finetune_result_has_no_training_time_unless_converged() -> None:
    good = _result([1.0, 0.5, 0.2, 0.1, 0.1])
    assert good.training_time(0.1) == 3 and good.to_dict()["status"] == "converged"
    bad = _result([1.1, 3.5e28, 3.5e5, 6.7e5, 1.2e4])
    assert bad.training_time(0.1) is None and bad.training_time(0.4, curve="error") is None
    assert bad.to_dict()["status"] == "diverged"
    back_up = _result([1.0, 0.2, 0.9, 0.8])
    assert back_up.status is U and back_up.training_time(0.1) is None
