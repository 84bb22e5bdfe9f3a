"""Figure 4 of the paper: how good the projected Θ is, and the power-law spectrum of Θ.

Left: relative Frobenius error ‖Θ̂ − Θ‖ / ‖Θ‖ of the random-projection (``GAUSSIAN``) and
count-sketch (``SKETCH``) estimates against the exact Θ, as the projection dimension D′ grows
(both unbiased, error ∝ 1/√D′). Right: eigenvalues λ_k / N of the exact Θ for growing N, on a
log–log scale, with the fitted power law λ_k / N ≈ c k^(−s) (supplementary §D). Writes
``fig4_ntk.png``, ``fig4_projection.csv`` (method, D′, error) and ``fig4_spectrum.json``.

    python scripts/fig4_ntk.py --out out/fig4      # small_cnn, up to N = 200, D′ up to 16384
    python scripts/fig4_ntk.py --small             # tiny model, N ≤ 40, CI
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import jax
import numpy as np

import ttjax
from ttjax.extrapolate import PowerLaw, fit_power_law

PROJECTIONS = (ttjax.NtkMethod.GAUSSIAN, ttjax.NtkMethod.SKETCH)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="out/fig4_ntk")
    ap.add_argument("--small", action="store_true", help="tiny model and task (CI)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.small:
        name, size, classes, per_class = "tiny", 8, 4, (5, 10)
        dims = (32, 512)
    else:
        name, size, classes, per_class = "small_cnn", 28, 5, (10, 20, 40)
        dims = (256, 1024, 4096, 16384)
    model = ttjax.create_model(
        name, num_classes=classes, image_size=size, weights=None, key=jax.random.key(args.seed)
    )
    task = ttjax.load_task(
        "digits", classes=classes, per_class=max(per_class), image_size=size, seed=args.seed
    )
    x = model.preprocess(task.images)

    def ntk(method: ttjax.NtkMethod, xs: jax.Array, dim: int | None = None) -> np.ndarray:
        cfg = ttjax.NtkConfig(method=method, projection_dim=dim)
        res = ttjax.compute_ntk(
            model.apply_fn, model.params, xs, config=cfg, key=jax.random.key(args.seed + 1)
        )
        return np.asarray(res.theta, np.float64)

    exact = ntk(ttjax.NtkMethod.EXACT, x)
    errors = [
        (m.value, d, float(np.linalg.norm(ntk(m, x, d) - exact) / np.linalg.norm(exact)))
        for m in PROJECTIONS
        for d in dims
    ]
    # Θ of the first N examples is the leading [N·C, N·C] block of the example-major Θ.
    spectra: dict[int, tuple[np.ndarray, PowerLaw]] = {}
    for k in per_class:
        n = k * classes
        lam, _ = ttjax.eigh_spectrum(exact[: n * classes, : n * classes])
        vals = np.clip(lam / n, 1e-12, None)
        # past the top C eigenvalues (one per class: the logits' mean directions) to the middle
        law = fit_power_law(vals, k_range=(classes + 1, n * classes // 2))
        spectra[n] = (vals, law)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fig4_projection.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("method", "projection_dim", "relative_error"))
        w.writerows(errors)
    spectrum_json = {
        str(n): {
            "eigenvalues_over_n": v.tolist(),
            "coefficient": law.coefficient,
            "exponent": law.exponent,
        }
        for n, (v, law) in spectra.items()
    }
    (out / "fig4_spectrum.json").write_text(json.dumps(spectrum_json, indent=1) + "\n")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_err, ax_spec = fig.subplots(1, 2)
    for m in PROJECTIONS:
        pts = np.array([(d, e) for name_, d, e in errors if name_ == m.value])
        ax_err.loglog(pts[:, 0], pts[:, 1], "o-", label=m.value)
    ax_err.loglog(np.array(dims), np.sqrt(2.0 / np.array(dims)), "k:", label="√(2/D′)")
    ax_err.xaxis.set_minor_formatter(NullFormatter())
    ax_err.yaxis.set_minor_formatter(NullFormatter())
    ax_err.set_xlabel("projection dimension D′")
    ax_err.set_ylabel("‖Θ̂ − Θ‖_F / ‖Θ‖_F")
    ax_err.set_title(f"projected Θ vs exact ({name}, N={len(task.labels)})")
    ax_err.grid(alpha=0.3, which="both")
    ax_err.legend(fontsize=8)
    for n, (vals, law) in spectra.items():
        k = np.arange(1, vals.size + 1)
        (line,) = ax_spec.loglog(k, vals, ".", ms=3, label=f"N={n}, s={law.exponent:.2f}")
        ax_spec.loglog(k, law(k), color=line.get_color(), lw=1)
    ax_spec.set_xlabel("k")
    ax_spec.set_ylabel("λ_k(Θ) / N")
    ax_spec.set_title("spectrum of Θ: power law")
    ax_spec.grid(alpha=0.3, which="both")
    ax_spec.legend(fontsize=8)
    fig.savefig(out / "fig4_ntk.png", dpi=110)
    print(f"{len(errors)} projection errors, spectra for N={list(spectra)} → {out}")


if __name__ == "__main__":
    main()
