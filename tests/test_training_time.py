import numpy as np
import pytest

from ttjax._errors import DataError
from ttjax.training_time import epsilon_training_time, parse_eps, training_time_stats


@pytest.mark.parametrize(
    ("curve", "eps", "expected"),
    [
        # L0=1, LT=0: threshold ε·1; first t with L_t ≤ ε
        ([1.0, 0.5, 0.2, 0.1, 0.0], 0.1, 3),
        ([1.0, 0.5, 0.2, 0.1, 0.0], 0.5, 1),
        ([1.0, 0.5, 0.2, 0.1, 0.0], 0.01, 4),
        ([1.0, 0.5, 0.2, 0.1, 0.0], 1.0, 0),
        # final value not zero: L_t − L_T ≤ ε (L_0 − L_T) with L_T = 2
        ([10.0, 6.0, 3.0, 2.5, 2.0], 0.1, 3),
        # non-monotone curve: first hit counts even if it goes back up
        ([1.0, 0.05, 0.5, 0.0], 0.1, 1),
        # flat curve: holds at t = 0
        ([3.0, 3.0, 3.0], 0.1, 0),
        # loss went up: holds at t = 0 by definition
        ([1.0, 2.0, 3.0], 0.1, 0),
    ],
)
def test_hand_computed_cases(curve, eps, expected):
    assert int(epsilon_training_time(np.array(curve), eps)) == expected


def test_batched_matches_loop():
    rng = np.random.default_rng(0)
    curves = np.cumsum(-rng.random((7, 21)), axis=1)
    batched = epsilon_training_time(curves, 0.1)
    assert batched.shape == (7,)
    assert batched.tolist() == [int(epsilon_training_time(c, 0.1)) for c in curves]


def test_nan_and_bad_eps_are_clear_errors():
    with pytest.raises(DataError, match="diverged"):
        epsilon_training_time(np.array([1.0, np.nan, 0.0]), 0.1)
    with pytest.raises(DataError, match=r"\(0, 1\]"):
        epsilon_training_time(np.array([1.0, 0.0]), 0.0)
    with pytest.raises(DataError, match=r"ε list"):
        parse_eps("0.1,abc")


def test_stats_quantiles():
    s = training_time_stats(np.arange(101))
    assert (s.median, s.mean, s.q05, s.q95) == (50.0, 50.0, 5.0, 95.0)
