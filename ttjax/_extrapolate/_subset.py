"""Θ on a subset of N0 ≤ N examples, extrapolated to N (supplementary §D), as one pipeline.

1. :func:`stratified_subset`: N0 examples, the classes in proportion (seeded).
2. :func:`extrapolate_from_subset`: Θ0 on the subset → power laws for λ_k and the residual's
   projections p_k on N (:func:`ttjax.extrapolate.extrapolate_spectrum`), the projections' total
   pinned by ``Σ p̂_k = ‖r‖²`` with r the residual on all N (needs f0 on N: a forward pass).
3. :func:`surrogate_ntk`: a Θ̂ on N with exactly that spectrum, ``Θ̂ = U diag(λ̂) Uᵀ``, whose
   eigenbasis U is a random rotation reflected so that ``Uᵀ r = √p̂`` (Householder). Any
   dynamics then run on Θ̂ unchanged: for MSE + GD the loss curve is exactly the paper's
   ``L_t = (1/2N) Σ_k p̂_k (1 − η̃ λ̂_k/N)^{2t}``; for cross-entropy the residual is the CE
   gradient ``r = e_y − softmax(f0)`` (its projections are extrapolated the same way), and the
   directions orthogonal to r are random — an approximation whose Tε error must be measured
   against the full Θ (README).

Θ̂ costs two ``(N·C)³`` dense products (QR, then U Λ Uᵀ): seconds at N·C = 3750.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jaxtyping import Float, Int

from .._config import Loss
from .._errors import ConfigError
from .._protocols import Network
from .._types import Images
from ..data import Task
from ..ntk import NtkConfig
from ._spectrum import ExtrapolatedSpectrum, ExtrapolationConfig, extrapolate_spectrum

DEFAULT_EXTRAPOLATION = ExtrapolationConfig()


def stratified_subset(labels: Int[np.ndarray, " N"], n0: int, *, key: jax.Array) -> np.ndarray:
    """Sorted indices of ``n0`` examples, each class in proportion to its share (seeded).

    Quotas are ``n0 · n_c / N`` rounded by largest remainder (at least one per class when
    ``n0`` ≥ the number of classes); within a class the examples are a uniform draw.

    Example:
        >>> import jax, numpy as np
        >>> idx = stratified_subset(np.repeat(np.arange(3), 10), 6, key=jax.random.key(0))
        >>> np.bincount(np.repeat(np.arange(3), 10)[idx]).tolist()
        [2, 2, 2]
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not 2 <= n0 <= n:
        raise ConfigError(f"the Θ subset must have 2 ≤ N0 ≤ N = {n} examples, got N0 = {n0}.")
    classes, counts = np.unique(labels, return_counts=True)
    exact = n0 * counts / n
    quota = np.floor(exact).astype(int)
    if n0 >= len(classes):
        quota = np.maximum(quota, 1)
    for i in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if quota.sum() >= n0:
            break
        quota[i] += 1
    while quota.sum() > n0:  # the minimum of one per class overshot: trim the largest
        quota[int(np.argmax(quota))] -= 1
    out = []
    for j, (c, q) in enumerate(zip(classes, quota, strict=True)):
        members = np.flatnonzero(labels == c)
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, j), len(members)))
        out.append(members[perm[:q]])
    return np.sort(np.concatenate(out))


def _residual_target(f0: np.ndarray, loss: Loss) -> np.ndarray:
    """What plays f0 in ``r = e_y − target``: f0 (MSE) or softmax(f0) (the CE gradient)."""
    f0 = np.asarray(f0, np.float64)
    if loss is Loss.MSE:
        return f0
    z = np.exp(f0 - f0.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def extrapolate_from_subset(
    theta0: Float[np.ndarray, "N0C N0C"],
    f0_subset: Float[np.ndarray, "N0 C"],
    labels_subset: Int[np.ndarray, " N0"],
    *,
    f0: Float[np.ndarray, "N C"],
    labels: Int[np.ndarray, " N"],
    loss: Loss = Loss.MSE,
    config: ExtrapolationConfig = DEFAULT_EXTRAPOLATION,
) -> ExtrapolatedSpectrum:
    """Spectrum of Θ on N and the residual's projections, from Θ0 on a subset (supp. §D).

    The residual is ``r = vec(e_y − f0)`` for MSE (the paper) and ``vec(e_y − softmax(f0))``
    for cross-entropy (the initial CE gradient); ``‖r‖²`` on all N examples pins the
    projections' tail.

    Args:
        theta0: Θ0 on the subset (example-major ``[N0·C, N0·C]``).
        f0_subset, labels_subset: the subset's pretrained outputs and labels.
        f0, labels: the same on all N examples.
        loss: which residual; config: :class:`ExtrapolationConfig`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> g = rng.normal(size=(40, 200)); f0 = 0.1 * rng.normal(size=(80, 2))
        >>> y = np.arange(80) % 2
        >>> ex = extrapolate_from_subset(g @ g.T, f0[:20], y[:20], f0=f0, labels=y,
        ...                              config=ExtrapolationConfig(k0=10))
        >>> ex.spectrum.n, bool(np.isclose(ex.spectrum.projections.sum(),
        ...                                ((np.eye(2)[y] - f0) ** 2).sum()))
        (80, True)
    """
    labels = np.asarray(labels)
    target = _residual_target(f0, loss)
    c = target.shape[1]
    residual = float(np.sum((np.eye(c)[labels] - target) ** 2))
    return extrapolate_spectrum(
        np.asarray(theta0, np.float64),
        _residual_target(f0_subset, loss),
        np.asarray(labels_subset),
        n=len(labels),
        residual_norm_sq=residual,
        config=config,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SurrogateNtk:
    """Θ̂ on N built from an extrapolated spectrum (the fields :class:`Problem` reads).

    Attributes:
        theta: ``[N·C, N·C]`` example-major, float64.
        f0: the real pretrained outputs on the N examples.
        features: always None (no feature factor: the noise factor comes from Θ̂).
        extrapolation: the :class:`ExtrapolatedSpectrum` it was built from.
        n0: the subset size.
    """

    theta: np.ndarray
    f0: np.ndarray
    extrapolation: ExtrapolatedSpectrum
    n0: int
    features: None = None


def surrogate_ntk(
    extrapolated: ExtrapolatedSpectrum,
    f0: Float[np.ndarray, "N C"],
    labels: Int[np.ndarray, " N"],
    *,
    loss: Loss,
    key: jax.Array,
) -> SurrogateNtk:
    """Θ̂ = U diag(λ̂) Uᵀ with ``(u_kᵀ r)² = p̂_k`` exactly (r: the residual, see module doc).

    U = Q H: Q a Haar-random orthogonal matrix (QR of a Gaussian, signs fixed), H the
    Householder reflection that maps ``a = Qᵀ r`` to ``b = √p̂`` (``‖a‖ = ‖b‖`` because
    ``Σ p̂_k = ‖r‖²``), so ``Uᵀ r = H a = b``.

    Example:
        >>> from ttjax.extrapolate import Spectrum, ExtrapolatedSpectrum, PowerLaw
        >>> f0 = np.zeros((3, 2)); y = np.array([0, 1, 0]); r2 = 3.0
        >>> sp = Spectrum(eigenvalues=np.array([6., 5, 4, 3, 2, 1]),
        ...               projections=np.array([1., 1, 0.5, 0.5, 0, 0]), n=3, num_classes=2)
        >>> law = PowerLaw(coefficient=1.0, exponent=1.0)
        >>> ex = ExtrapolatedSpectrum(spectrum=sp, eigen_law=law, alpha=0.0, tail_law=law,
        ...                           k0=1, n0=2)
        >>> s = surrogate_ntk(ex, f0, y, loss=Loss.MSE, key=jax.random.key(0))
        >>> np.round(np.linalg.eigvalsh(s.theta)[::-1], 6).tolist()
        [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    """
    sp = extrapolated.spectrum
    labels = np.asarray(labels)
    n, c = np.asarray(f0).shape
    size = n * c
    if sp.eigenvalues.shape != (size,) or sp.projections.shape != (size,):
        raise ConfigError(
            f"the extrapolated spectrum has {sp.eigenvalues.shape[0]} modes, expected N·C = {size}."
        )
    r = (np.eye(c)[labels] - _residual_target(f0, loss)).reshape(-1)
    g = np.asarray(jax.random.normal(key, (size, size)), np.float64)
    q, rr = np.linalg.qr(g)
    q *= np.sign(np.diag(rr))[None, :]  # Haar measure
    a = q.T @ r
    b = np.sqrt(np.clip(sp.projections, 0.0, None))
    b *= np.linalg.norm(a) / max(np.linalg.norm(b), 1e-300)  # ‖b‖ = ‖r‖ (exact up to rounding)
    w = a - b
    wn = np.linalg.norm(w)
    if wn > 1e-12 * max(np.linalg.norm(a), 1e-300):
        w /= wn
        q = q - 2.0 * np.outer(q @ w, w)  # U = Q H, H = I − 2 w wᵀ
    theta = (q * sp.eigenvalues[None, :]) @ q.T
    return SurrogateNtk(
        theta=0.5 * (theta + theta.T),
        f0=np.asarray(f0, np.float64),
        extrapolation=extrapolated,
        n0=extrapolated.n0,
    )


def subset_task_ntk(
    model: Network,
    task: Task,
    n0: int,
    *,
    loss: Loss,
    ntk_config: NtkConfig | None = None,
    extrapolation: ExtrapolationConfig | None = None,
    key: jax.Array,
    progress: bool = False,
) -> tuple[SurrogateNtk, dict[str, float]]:
    """Θ on N0 stratified examples of ``task``, extrapolated to all of them (Θ̂, stage seconds).

    The library's ``ntk_subset=`` route: :func:`stratified_subset` → Θ0
    (:func:`ttjax.task_ntk`) → f0 on N (one jitted forward pass, in chunks) →
    :func:`extrapolate_from_subset` → :func:`surrogate_ntk`. ``extrapolation`` None: the
    default config with the projections' tail from ``k0 = 10%`` of the N0·C modes (at most
    100: the paper's k0 for N0·C = 1000), since a fixed k0 = 100 would leave no tail to fit
    on a small subset.
    """
    import time

    from ..predict import task_ntk

    k_sub, k_ntk, k_rot = jax.random.split(key, 3)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    idx = stratified_subset(task.labels, n0, key=k_sub)
    if extrapolation is None:
        modes = n0 * int(task.num_classes)
        extrapolation = ExtrapolationConfig(k0=int(np.clip(round(0.1 * modes), 2, 100)))
    sub = dataclasses.replace(task, images=task.images[idx], labels=task.labels[idx])
    th0 = task_ntk(model, sub, config=ntk_config, key=k_ntk, progress=progress)
    timing["ntk"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    f0 = forward_logits(model, task.images)
    ex = extrapolate_from_subset(
        np.asarray(th0.theta),
        np.asarray(th0.f0),
        np.asarray(sub.labels),
        f0=f0,
        labels=np.asarray(task.labels),
        loss=loss,
        config=extrapolation,
    )
    ntk = surrogate_ntk(ex, f0, np.asarray(task.labels), loss=loss, key=k_rot)
    timing["extrapolate"] = time.perf_counter() - t0
    return ntk, timing


def forward_logits(model: Network, images: Images, *, chunk: int = 256) -> Float[np.ndarray, "N C"]:
    """Pretrained outputs ``f0 = apply_fn(params, preprocess(x))`` ``[N, C]`` (float64) of
    ``model`` on uint8 ``images``, ``chunk`` images per jitted call (bounded activations)."""
    apply = jax.jit(model.apply_fn)
    parts = [
        np.asarray(apply(model.params, model.preprocess(images[i : i + chunk])))
        for i in range(0, len(images), chunk)
    ]
    return np.concatenate(parts).astype(np.float64)


__all__ = [
    "SurrogateNtk",
    "extrapolate_from_subset",
    "forward_logits",
    "stratified_subset",
    "subset_task_ntk",
    "surrogate_ntk",
]
