"""Choices of the function-space dynamics: time model, noise model, momentum, schedule.

All are enums or frozen dataclasses passed as keyword-only arguments; they are
*static* (changing one compiles a new solve), while the hyper-parameter *values*
(lr, momentum, batch size) are traced and never cause a recompilation.
"""

from __future__ import annotations

import dataclasses
import enum

from .._errors import ConfigError
from .._fields import set_enum, set_int
from .._schedule import Schedule, ScheduleKind


class TimeMode(enum.Enum):
    """How time is modelled.

    * ``DISCRETE``: the step-by-step map ``f_{t+1} = f_t − η̃_t Θ ∇_f L(f_t) (+ noise)``,
      exactly what a linearised network trained by (S)GD does (real training is discrete).
    * ``CONTINUOUS``: the paper's ODE/SDE (eq. 1), ``df = −η̃(t) Θ ∇_f L dt (+ noise dW)``,
      integrated with diffrax (GD) or Euler–Maruyama with ``sde_substeps`` per step (SGD).
    """

    DISCRETE = "discrete"
    CONTINUOUS = "continuous"


class NoiseModel(enum.Enum):
    """The SGD gradient-noise model (all are scaled by η̃/√|B| · √((N−|B|)/(N−1))).

    * ``DIAGONAL``: the paper's (§4): weight-space gradient covariance Σ₀ estimated at
      t = 0 and kept diagonal, pushed to function space once as K = F diag(Σ₀) Fᵀ, then
      rescaled by ‖∇_f L(f_t)‖ / ‖∇_f L(f_0)‖ as the loss falls.
    * ``CONSTANT``: as ``DIAGONAL`` without the rescaling (the paper's Fig. 8 ablation).
    * ``FUNCTION_SPACE``: the exact covariance of the linear model's mini-batch step in
      function space, Θ·cov(ĝ)·Θ, recomputed every step from Θ and the current per-example
      residuals r_i = ∂ℓ_i/∂f_i (no weight-space approximation; Gaussian).
    * ``MINIBATCH``: no Gaussian model at all: samples real batches of |B| distinct
      examples and steps ``f ← f − η Θ[:, B] r_B / |B|`` — the linear model's SGD itself
      (the gold standard of the linear model; always discrete).
    """

    DIAGONAL = "diagonal"
    CONSTANT = "constant"
    FUNCTION_SPACE = "function_space"
    MINIBATCH = "minibatch"


class MomentumMode(enum.Enum):
    """How heavy-ball momentum m is modelled.

    * ``EXACT`` (the default in discrete time): heavy ball on the linear model, in
      function space: ``v ← m v + Θ ∇_f L (+ noise)``, ``f ← f − η v`` (optax
      ``sgd(momentum=m)`` composed with the Jacobian). Discrete time only. Measured: the
      effective-lr rule predicts a first-step loss drop 1/(1 − m) = 10× the real one at
      m = 0.9, and lags true heavy ball by up to 25% in Tε.
    * ``EFFECTIVE_LR``: the paper's §3.1: plain (S)GD with η̃ = η / (1 − m) (the only
      choice in continuous time).
    """

    EFFECTIVE_LR = "effective_lr"
    EXACT = "exact"


class DriftModel(enum.Enum):
    """How the kernel's drift away from Θ(w₀) is modelled.

    * ``OBSERVED`` (the default): Θ_t = κ_t Θ₀ with κ_t = tr Θ(w_t) / tr Θ(w₀) measured along
      the first K real steps (those :func:`ttjax.predict_training_time` runs anyway to time
      a step; :func:`ttjax.train.observe_steps`) and held at κ_K afterwards. When κ would
      carry the step past the stability edge (η̃·κ·λ_max(ΘH) ≥ 2) it is held just below it:
      the network self-stabilises there ("edge of stability"), and the prediction says so.
      Without observations (``kernel_scale=None``) the kernel stays fixed.
    * ``GRADIENT``: the same, with κ_k measured along the loss gradient instead of by the
      trace: κ^g_k = ‖∇_w L(w_k)‖² / g_kᵀΘ₀g_k (normalised at w₀; g = ∇_f L), the scale at
      which the drifting model's loss-decrease rate is exact at the observed points
      (:meth:`ttjax.train.Observation.gradient_scale`).
    * ``PATH``: κ_t measured along the gradient at points of the *predicted* trajectory, by
      a walk of re-linearised segments that moves the real network's weights as the
      prediction does (:func:`ttjax.train.walk_predicted_path`), so drift after the first K
      steps — e.g. feature learning speeding a ResNet up after 20 steps — is seen. Opt-in: the
      walk costs up to ``ttjax.train.PATH_BUDGET`` full-set passes (≈ 20 training steps),
      reported in ``linearity.path_walk``.
    * ``ALIGNED``: ``GRADIENT`` for the K observed steps, then the rate along the residual is
      partly held: κ_t = κ^g_K · [R₀(g_K) / R₀(r_t)]^γ with R₀(v) = vᵀΘ₀v / ‖v‖², g_K the real
      full-set loss gradient after step K, r_t = ∇_f L(f_t) the simulated residual and
      γ = ``DynamicsConfig.drift_alignment``. A fixed kernel slows down as the residual moves
      into Θ₀'s slow directions; the real kernel turns toward what is left to fit (γ = 1:
      the rate along the residual stays what it was at step K; γ = 0: ``GRADIENT``).
      Opt-in and experimental (README, "Holding the rate along the residual").
    * ``NONE``: the paper's fixed kernel Θ₀ (the plain linearised model).
    """

    OBSERVED = "observed"
    GRADIENT = "gradient"
    PATH = "path"
    ALIGNED = "aligned"
    NONE = "none"


class OdeSolver(enum.Enum):
    """diffrax solver for the GD ODE (adaptive, PID step-size control)."""

    TSIT5 = "tsit5"
    DOPRI5 = "dopri5"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DynamicsConfig:
    """Static configuration of :func:`ttjax.dynamics.simulate`.

    Attributes:
        time: discrete map or continuous ODE/SDE (:class:`TimeMode`).
        noise_model: SGD noise model (:class:`NoiseModel`); unused for GD.
        momentum: how momentum is modelled (:class:`MomentumMode`); ``None`` (default)
            resolves to ``EXACT`` in discrete time and ``EFFECTIVE_LR`` in continuous time.
        schedule: deprecated alias of ``Hyperparams.schedule`` (where a schedule belongs: the
            real run reads it there too). Used only when ``hparams.schedule`` is constant;
            :func:`with_schedule_of` resolves the two.
        drift: how the kernel's drift is modelled (:class:`DriftModel`).
        drift_bounds: (lowest, highest) kernel scale κ_t the drift model accepts (observed
            values outside are clipped).
        drift_alignment: γ ≥ 0 of ``DriftModel.ALIGNED`` (unused by the other drift models);
            None: fitted to the observed steps (:func:`ttjax.dynamics.fit_alignment`).
        ode_solver: diffrax solver for the continuous GD ODE.
        rtol, atol: tolerances of the adaptive ODE solve.
        sde_substeps: Euler–Maruyama sub-steps per optimisation step (continuous SGD).
        mse_closed_form: for MSE + GD, use the eigenbasis closed form (exact) instead of
            integrating.
        check_stability: refuse (``StabilityError``) a learning rate past the linear
            model's stability limit instead of returning NaNs.

    Example:
        >>> cfg = DynamicsConfig(time=TimeMode.CONTINUOUS, noise_model=NoiseModel.CONSTANT)
        >>> cfg.noise_model.value
        'constant'
    """

    time: TimeMode = TimeMode.DISCRETE
    noise_model: NoiseModel = NoiseModel.DIAGONAL
    momentum: MomentumMode | None = None  # resolved in __post_init__: never None after it
    schedule: Schedule = dataclasses.field(default_factory=Schedule)
    drift: DriftModel = DriftModel.OBSERVED
    drift_bounds: tuple[float, float] = (0.1, 10.0)
    drift_alignment: float | None = 1.0
    ode_solver: OdeSolver = OdeSolver.TSIT5
    rtol: float = 1e-5
    atol: float = 1e-7
    sde_substeps: int = 4
    mse_closed_form: bool = True
    check_stability: bool = True

    def __post_init__(self) -> None:
        for name, cls in (("time", TimeMode), ("noise_model", NoiseModel), ("drift", DriftModel),
                          ("ode_solver", OdeSolver)):  # fmt: skip
            set_enum(self, name, cls)
        if self.momentum is not None:
            set_enum(self, "momentum", MomentumMode)
        set_int(self, "sde_substeps")
        if not isinstance(self.schedule, Schedule):
            raise ConfigError(f"schedule must be a ttjax.Schedule, got {self.schedule!r}.")
        if self.momentum is None:
            default = (
                MomentumMode.EXACT if self.time is TimeMode.DISCRETE else MomentumMode.EFFECTIVE_LR
            )
            object.__setattr__(self, "momentum", default)
        lo, hi = self.drift_bounds
        if not 0 < lo <= 1 <= hi:
            raise ConfigError(
                f"drift_bounds must satisfy 0 < low ≤ 1 ≤ high, got {self.drift_bounds}."
            )
        gamma = self.drift_alignment
        if gamma is not None and not 0 <= gamma < float("inf"):
            raise ConfigError(f"drift_alignment γ must be finite and ≥ 0 (or None), got {gamma}.")
        if self.sde_substeps < 1:
            raise ConfigError(f"sde_substeps must be ≥ 1, got {self.sde_substeps}.")
        if not (self.rtol > 0 and self.atol > 0):
            raise ConfigError(
                f"ODE tolerances must be > 0, got rtol={self.rtol}, atol={self.atol}."
            )
        if self.momentum is MomentumMode.EXACT and self.time is TimeMode.CONTINUOUS:
            raise ConfigError(
                "exact momentum is a discrete-time model; use time=TimeMode.DISCRETE "
                "(--time discrete) or momentum=MomentumMode.EFFECTIVE_LR "
                "(--momentum-model effective_lr)."
            )

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict."""
        return {
            "time": self.time.value,
            "noise_model": self.noise_model.value,
            "momentum": None if self.momentum is None else self.momentum.value,
            "schedule": self.schedule.to_dict(),
            "drift": self.drift.value,
            "drift_bounds": list(self.drift_bounds),
            "drift_alignment": self.drift_alignment,
            "ode_solver": self.ode_solver.value,
            "rtol": self.rtol,
            "atol": self.atol,
            "sde_substeps": self.sde_substeps,
            "mse_closed_form": self.mse_closed_form,
            "check_stability": self.check_stability,
        }


def with_schedule_of(config: DynamicsConfig, schedule: Schedule) -> DynamicsConfig:
    """``config`` stepping with ``schedule`` (the run's, ``Hyperparams.schedule``).

    The run's schedule wins; ``config.schedule`` (the older place) still applies when the run's
    is constant, so ``DynamicsConfig(schedule=s)`` with a constant-lr ``Hyperparams`` predicts
    exactly what ``Hyperparams(schedule=s)`` does.

    Raises:
        ConfigError: both are set and differ.
    """
    if schedule.kind is ScheduleKind.CONSTANT or schedule == config.schedule:
        return config
    if config.schedule.kind is not ScheduleKind.CONSTANT:
        raise ConfigError(
            f"two learning-rate schedules: Hyperparams.schedule={schedule.to_dict()} and "
            f"DynamicsConfig.schedule={config.schedule.to_dict()}; set it once, on Hyperparams."
        )
    return dataclasses.replace(config, schedule=schedule)


DEFAULT_DYNAMICS = DynamicsConfig()
"""The default configuration (a module-level singleton for argument defaults)."""
