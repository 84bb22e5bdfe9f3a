"""GD in continuous time: the paper's ODE (eq. 1 without noise), with diffrax.

.. math::

    \\frac{df}{dt} = -η̃\\, s(t)\\, Θ\\, ∇_f L(f), \\qquad ∇_f L = \\text{losses.loss\\_gradient}
    \\;(\\text{carries } 1/N),

solved by an adaptive explicit Runge–Kutta method (Tsit5 or Dopri5) with PID
step-size control, saved at the integer steps t = 0..T.
"""

from __future__ import annotations

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .. import losses
from .._config import Loss
from ._config import DynamicsConfig, OdeSolver


def solve_gd_ode(
    theta: Float[Array, "NC NC"],
    f0: Float[Array, "N C"],
    labels: Int[Array, " N"],
    lr: Float[Array, ""],
    *,
    loss: Loss,
    steps: int,
    config: DynamicsConfig,
) -> Float[Array, "T1 N C"]:
    """Outputs f_t at t = 0..T of the GD ODE (call inside a ``jit``)."""
    n, c = f0.shape

    def vector_field(t, y, args):
        f = y.reshape(n, c)
        grad = losses.loss_gradient(f, labels, loss=loss).reshape(-1)
        rate = lr * config.schedule.factor(t, total_steps=steps)
        return -rate * (theta @ grad)

    solver = diffrax.Dopri5() if config.ode_solver is OdeSolver.DOPRI5 else diffrax.Tsit5()
    ts = jnp.arange(steps + 1, dtype=f0.dtype)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        solver,
        t0=0.0,
        t1=float(steps),
        dt0=None,
        y0=f0.reshape(-1),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=config.rtol, atol=config.atol),
        max_steps=max(4096, 64 * steps),
    )
    ys = sol.ys
    assert ys is not None
    return ys.reshape(steps + 1, n, c)
