"""The ``--json`` document of a prediction (docs/ARCHITECTURE.md, "JSON"): keys and layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._jsonable import jsonable
from ..training_time import eps_key

if TYPE_CHECKING:
    from ._result import Prediction

JsonDict = dict[str, Any]
"""A JSON-friendly mapping (values: str, numbers, None, lists and such mappings)."""


_CONTRACT_REGIME = {"linear": "lazy"}


def prediction_document(pred: Prediction, eps_text: Sequence[str] | None = None) -> JsonDict:
    """``config``, ``curves``, ``training_time`` (keys: ε as given), wall-clock, timings,
    ``stability``, ``method`` and ``linearity`` of ``pred``, its ``status`` (Tε and wall-clock
    ``null`` unless ``converged``), and the contract's top-level ``regime``
    (``linearity.regime``, with ``linear`` written ``lazy``) and ``warnings``.

    ``eps_text``: the ε keys as the user wrote them (``"0.1"``, ``".1"``); default
    :func:`ttjax.training_time.eps_key` of each ε.
    """
    keys = list(eps_text) if eps_text is not None else [eps_key(e) for e in pred.training_time]
    regime = str(pred.linearity.get("regime", "unobserved"))
    settled = pred.converged  # otherwise Tε is no training time: null, like finetune's
    tt = {
        k: s.to_dict() if settled else None
        for k, s in zip(keys, pred.training_time.values(), strict=True)
    }
    other = {k: s.to_dict() for k, s in zip(keys, pred.training_time_other.values(), strict=True)}
    return jsonable(
        {
            "config": pred.config,
            "curves": {k: np.asarray(v).tolist() for k, v in pred.curves.items()},
            "training_time": tt,
            "wall_clock_estimate_s": pred.wall_clock_estimate_s if settled else None,
            "timing_s": dict(pred.timing_s),
            "training_time_criterion": pred.criterion.value,
            "training_time_other": other,
            "step_time_s": pred.step_time_s,
            "wall_clock_s": None
            if pred.wall_clock_s is None or not settled
            else dict(zip(keys, pred.wall_clock_s.values(), strict=True)),
            "status": pred.status.value,
            "stability": {
                "lambda_max": pred.trajectories.lambda_max,
                "curvature": pred.trajectories.curvature,
                "max_stable_lr": pred.trajectories.max_stable_lr,
            },
            "method": pred.trajectories.method.value,
            "linearity": pred.linearity,
            # the shared contract's top-level keys (docs/ARCHITECTURE.md): "lazy" is "linear"
            "regime": _CONTRACT_REGIME.get(regime, regime),
            "warnings": [pred.warning] if pred.warning else [],
        }
    )


__all__ = ["JsonDict", "prediction_document"]
