"""Generate the three notebooks from the cells below: ``python notebooks/_make_notebooks.py``.

The notebooks are committed (Colab opens them from GitHub); edit this file, not the ``.ipynb``,
and re-run it. Every cell calls the public ttjax API only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

INSTALL = """\
# Colab: ttjax is installed from TTJAX_SOURCE when it is not importable: a git URL
# ("git+https://<host>/<you>/ttjax.git"), a checkout on Drive ("/content/drive/MyDrive/ttjax")
# or a wheel. Set it here or as an environment variable, then run this cell.
import importlib.util
import os
import subprocess
import sys

TTJAX_SOURCE = os.environ.get("TTJAX_SOURCE", "")
if importlib.util.find_spec("ttjax") is None:
    if not TTJAX_SOURCE:
        raise RuntimeError("ttjax is not installed: set TTJAX_SOURCE to its git URL or path.")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", TTJAX_SOURCE])
import jax
import ttjax

print("ttjax", ttjax.__version__, "on", jax.devices())"""

PARAMS = """\
import os

# TTJAX_NOTEBOOK_SMALL=1 (CI): a tiny random network on 40 digits; else the real setting.
SMALL = os.environ.get("TTJAX_NOTEBOOK_SMALL", "0") == "1"
if SMALL:
    MODEL, WEIGHTS, DATA, IMAGE_SIZE = "tiny", None, "digits", 8
    CLASSES, PER_CLASS, STEPS, PATHS = 4, 10, 20, 8
else:
    MODEL, WEIGHTS, DATA, IMAGE_SIZE = "efficientnet_lite0", "imagenet", "sample", 224
    CLASSES, PER_CLASS, STEPS, PATHS = 5, 20, 150, 64
SEED = 0"""

BUILD = """\
model = ttjax.create_model(MODEL, num_classes=CLASSES, image_size=IMAGE_SIZE, weights=WEIGHTS,
                           key=jax.random.key(SEED))
task = ttjax.load_task(DATA, classes=CLASSES, per_class=PER_CLASS, image_size=IMAGE_SIZE,
                       seed=SEED)
print(model.name, "on", len(task.labels), "images of", task.images.shape[1:])"""

QUICKSTART = [
    new_markdown_cell(
        "# Will my fine-tuning finish by Friday?\n\n"
        "Predict how many steps (and seconds) fine-tuning takes to reach a fraction ε of its "
        "final loss decrease, **without training**: ttjax computes the empirical NTK Θ of the "
        "pretrained network once and solves the linearised dynamics (Zancato et al., NeurIPS "
        "2020) for as many hyper-parameters as you like. Then we check one prediction against "
        "a real fine-tuning run."
    ),
    new_code_cell(INSTALL),
    new_code_cell(PARAMS),
    new_code_cell(BUILD),
    new_markdown_cell(
        "Θ is computed once (`ntk`) and reused for every hyper-parameter; each prediction "
        "also times one real training step to turn steps into seconds."
    ),
    new_code_cell("""\
from ttjax.dynamics import Problem

ntk = ttjax.compute_ntk(model.apply_fn, model.params, model.preprocess(task.images),
                        config=ttjax.NtkConfig(), key=jax.random.key(1))
# the largest learning rate at which the linearised model does not diverge
problem = Problem.from_ntk(ntk, task.labels, loss=ttjax.Loss.CE)
lr_max = ttjax.simulate(problem, ttjax.Hyperparams(lr=1e-6, steps=1),
                        config=ttjax.DynamicsConfig(check_stability=False)).max_stable_lr
print(f"largest stable lr of the linearised model: {lr_max:.3g}")
predictions = {}
for lr in (float(f"{f * lr_max:.2g}") for f in (0.1, 0.25, 0.5)):
    hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=lr, steps=STEPS)
    pred = ttjax.predict_training_time(model, task, hp, eps=(0.1, 0.4), paths=1, ntk=ntk,
                                       key=jax.random.key(2), progress=False)
    predictions[lr] = pred
    t = {e: s.median for e, s in pred.training_time.items()}
    print(f"lr={lr:<5} T_eps (steps) = {t}   ≈ {pred.wall_clock_estimate_s:.3g} s to ε=0.1")"""),
    new_markdown_cell("## Compare with one real fine-tuning run (same `Hyperparams`)"),
    new_code_cell("""\
lr = sorted(predictions)[1]  # the middle learning rate
hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=lr, steps=STEPS)
real = ttjax.finetune(model, task, hp, key=jax.random.key(3), progress=False)
pred = predictions[lr]
for e, s in pred.training_time.items():
    real_t = int(ttjax.epsilon_training_time(real.loss, e))
    print(f"eps={e}: predicted T = {s.median:.0f} steps, real T = {real_t} steps")
print(f"real fine-tuning: {real.train_time_s:.3g} s;", end=" ")
print(f"prediction: {pred.timing_s['total']:.3g} s")"""),
    new_code_cell("""\
from IPython.display import Image

png = ttjax.plot_curves(
    "quickstart_curves.png",
    curves=pred.curves,
    reference={"loss": real.loss, "error": real.error},
    training_times={f"T(ε={e})": s.median for e, s in pred.training_time.items()},
    title=f"{model.name}, lr={lr}",
)
Image(filename=str(png))"""),
]

THEORY = [
    new_markdown_cell(
        "# A tour of the theory\n\n"
        "1. the spectrum of Θ follows a power law λ_k ∝ k^(−s);\n"
        "2. per-example gradients cluster by class (paper Fig. 3): the top eigenvectors of Θ "
        "separate the classes;\n"
        "3. GD is an ODE and SGD an SDE in function space (paper eq. 1)."
    ),
    new_code_cell(INSTALL),
    new_code_cell(PARAMS),
    new_code_cell(BUILD),
    new_code_cell("""\
import numpy as np

from ttjax.extrapolate import fit_power_law

cfg = ttjax.NtkConfig(method=ttjax.NtkMethod.EXACT if SMALL else ttjax.NtkMethod.KRONECKER)
ntk = ttjax.compute_ntk(model.apply_fn, model.params, model.preprocess(task.images),
                        config=cfg, key=jax.random.key(1))
n = len(task.labels)
lam, proj = ttjax.eigh_spectrum(ntk.theta, np.eye(CLASSES)[task.labels] - ntk.f0)
# fit past the top C eigenvalues (one per class) up to the middle of the spectrum
law = fit_power_law(np.clip(lam / n, 1e-12, None), k_range=(CLASSES + 1, lam.size // 2))
print(f"Θ is {ntk.theta.shape}; λ_k/N ≈ {law.coefficient:.3g} k^(-{law.exponent:.2f})")"""),
    new_code_cell("""\
import matplotlib.pyplot as plt

k = np.arange(1, lam.size + 1)
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
ax[0].loglog(k, np.clip(lam / n, 1e-12, None), ".", label="λ_k / N")
ax[0].loglog(k, law(k), "k-", lw=1, label=f"power law, s={law.exponent:.2f}")
ax[0].loglog(k, np.clip(proj, 1e-12, None), ".", alpha=0.5, label="p_k (residual projections)")
ax[0].set_xlabel("k")
ax[0].legend()
# Fig. 3: the class-summed per-example kernel Θ₁ = (1/C) Σ_c Θ[i c, j c], embedded with its
# top two eigenvectors (kernel PCA of the gradients), coloured by class.
theta1 = np.einsum("icjc->ij", ntk.theta.reshape(n, CLASSES, n, CLASSES)) / CLASSES
w, u = np.linalg.eigh(theta1)
emb = u[:, ::-1][:, :2] * np.sqrt(np.clip(w[::-1][:2], 0, None))
sc = ax[1].scatter(emb[:, 0], emb[:, 1], c=task.labels, cmap="tab10", s=18)
ax[1].set_title("gradients projected on the top-2 eigenvectors of Θ")
fig.colorbar(sc, ax=ax[1], label="class")
plt.show()"""),
    new_code_cell("""\
from ttjax.dynamics import Problem

problem = Problem.from_ntk(ntk, task.labels, loss=ttjax.Loss.CE)
cont = ttjax.DynamicsConfig(time=ttjax.TimeMode.CONTINUOUS)
lr = 0.5 * ttjax.simulate(problem, ttjax.Hyperparams(lr=1e-6, steps=1),
                          config=ttjax.DynamicsConfig(check_stability=False)).max_stable_lr
ode = ttjax.simulate(problem, ttjax.Hyperparams(lr=lr, steps=STEPS), config=cont)
sgd = ttjax.Hyperparams(optimizer=ttjax.Optimizer.SGD, lr=lr, batch_size=n // 4, steps=STEPS)
sde = ttjax.simulate(problem, sgd, config=cont, paths=PATHS, key=jax.random.key(4))
plt.plot(ode.loss[0], "k-", lw=2, label="ODE (GD)")
plt.plot(sde.loss.T, color="tab:red", alpha=0.3)
plt.plot(np.median(sde.loss, axis=0), color="tab:red", lw=2, label=f"SDE (SGD, |B|={n // 4})")
plt.xlabel("step")
plt.ylabel("predicted training loss")
plt.legend()
plt.show()"""),
]

BENCH = [
    new_markdown_cell(
        "# Benchmark summary\n\n"
        "Predicted vs real Tε on the cases of `ttjax benchmark` (a JSON-lines file, one case a "
        "line), summarised with the paper's metrics."
    ),
    new_code_cell(INSTALL),
    new_code_cell("""\
import os
from pathlib import Path

from ttjax.benchmark import Split, format_summary, read_records, summarize

SMALL = os.environ.get("TTJAX_NOTEBOOK_SMALL", "0") == "1"  # the same file either way
RECORDS = next(p for p in (Path("results"), Path("../results")) if p.is_dir())
RECORDS = RECORDS / "benchmark_default.jsonl"
records = read_records(RECORDS)
summary = summarize(records, split=Split.ALL)
print(format_summary(summary))"""),
    new_code_cell("""\
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, opt in zip(axes, ("gd", "sgd"), strict=True):
    cases = [r for r in records if r.get("status", "ok") == "ok"
             and r["case"]["hparams"]["optimizer"] == opt]
    for e in sorted({float(e) for r in cases for e in r["real"]}):
        real = [r["real"][repr(e)] for r in cases if repr(e) in r["real"]]
        pred = [r["predicted"][repr(e)]["median"] for r in cases if repr(e) in r["real"]]
        ax.scatter(real, pred, s=20, label=f"ε={e:g}")
    top = max([1] + [v for r in cases for v in r["real"].values()]) * 1.1
    ax.plot([0, top], [0, top], "k-", lw=1)
    ax.set(xlabel="real Tε (steps)", ylabel="predicted Tε (steps)", title=opt.upper())
    ax.legend(fontsize=8)
plt.show()"""),
]


def main() -> None:
    for name, cells in (
        ("quickstart", QUICKSTART),
        ("theory_tour", THEORY),
        ("benchmark_summary", BENCH),
    ):
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, HERE / f"{name}.ipynb")
    # Same layout as the rest of the code base (ruff formats notebooks too).
    subprocess.run(["ruff", "format", "--quiet", *map(str, HERE.glob("*.ipynb"))], check=True)


if __name__ == "__main__":
    main()
