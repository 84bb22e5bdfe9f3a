"""The result of a prediction: an immutable :class:`Prediction`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .._convergence import RunStatus
from ..dynamics import Trajectories
from ..training_time import Criterion
from ._json import JsonDict, prediction_document
from ._summary import Curves, TimesByEps


@dataclasses.dataclass(frozen=True, kw_only=True)
class Prediction:
    """A predicted fine-tuning run (immutable).

    Attributes:
        curves: ``loss``/``error`` (median over paths, T + 1 points) and
            ``loss_q05``/``loss_q95``/``error_q05``/``error_q95`` (5% / 95% bands).
        training_time: ε → :class:`TrainingTimeStats` (steps) on the ``criterion`` curve.
        training_time_other: the same on the other curve (error if criterion is loss).
        criterion: the curve Tε is read from.
        wall_clock_estimate_s: median Tε at the smallest ε × ``step_time_s`` (None if
            the step was not timed); ``wall_clock_s``: the same for every ε.
        step_time_s: measured seconds of one real training step (compile excluded).
        timing_s: seconds per stage (``ntk``, ``step_time``, ``solve``, ``total``).
        config: everything that defined the prediction (JSON-friendly).
        trajectories: the raw per-path curves and stability numbers.
        linearity: how far the run is from the linearised model (:mod:`ttjax._linearity`):
            ``regime`` (``"linear"``, ``"drifting"``, ``"edge_of_stability"`` or
            ``"unobserved"``), the observed kernel scales, the fixed-kernel Tε, and how much
            the band was widened for the kernel's drift.
        status: :func:`ttjax.classify_run` of the predicted median ``criterion`` curve (a
            predicted loss blow-up counts whatever the criterion). Anything but ``CONVERGED``
            (the linearised run does not decrease, blows up, or climbs back: an unstable
            learning rate) leaves Tε without meaning: the JSON writes it ``null`` and
            ``warning`` says so; ``training_time`` keeps what the formula gives.
    """

    curves: Curves
    training_time: TimesByEps
    training_time_other: TimesByEps
    criterion: Criterion
    wall_clock_estimate_s: float | None
    wall_clock_s: dict[float, float] | None
    step_time_s: float | None
    timing_s: dict[str, float]
    config: JsonDict
    trajectories: Trajectories
    linearity: JsonDict = dataclasses.field(default_factory=dict)
    status: RunStatus = RunStatus.CONVERGED

    @property
    def converged(self) -> bool:
        """Whether the predicted run settles (``status``): only then is Tε a training time."""
        return self.status is RunStatus.CONVERGED

    @property
    def warning(self) -> str | None:
        """A one-line warning when the predicted run does not settle (``status``) or is outside
        the regime where the prediction holds (``linearity``); None when neither."""
        lines = [line for line in (self._status_warning(), self.linearity.get("warning")) if line]
        return " ".join(lines) or None

    def _status_warning(self) -> str | None:
        if self.converged:
            return None
        c = self.curves[self.criterion.value]
        if max(c) - min(c) <= 1e-9 * max(1.0, abs(c[0])):  # nothing moves: no lr helps
            return (
                f"The predicted {self.criterion.value} curve does not move ({c[0]:.4g} "
                "throughout): the loss is already at its minimum, or Θ is zero (the outputs do "
                "not depend on the weights), so there is nothing to train and Tε is undefined "
                "(null)."
            )
        return (
            f"The predicted {self.criterion.value} curve {self.status.what} "
            f"({c[0]:.4g} → min {min(c):.4g} → {c[-1]:.4g} at T), so Tε is undefined (null): "
            "lower the learning rate (with SGD, or raise the batch size)."
        )

    def to_json_dict(self, eps_text: Sequence[str] | None = None) -> JsonDict:
        """The ``--json`` document of docs/ARCHITECTURE.md (keys of ε as given)."""
        return prediction_document(self, eps_text)

    def with_context(
        self, *, config: Mapping[str, object], timing_s: Mapping[str, float]
    ) -> Prediction:
        """The same prediction with the stages before it: ``config`` keys first (the model,
        the task, Θ), ``timing_s`` stages before ``solve``, ``total`` their sum."""
        timing = {**timing_s, **{k: v for k, v in self.timing_s.items() if k != "total"}}
        timing["total"] = sum(v for k, v in timing.items() if k != "total")
        return dataclasses.replace(self, config={**config, **self.config}, timing_s=timing)


__all__ = ["Prediction"]
