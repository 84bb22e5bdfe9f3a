"""The calibrated 5–95% band (issue 10): fit it on the tuning half, score it on the held-out half.

Fits the split-conformal factors of ``ttjax.BAND_CALIBRATION`` on the tuning records
(``ttjax.benchmark.calibrate_band``), says whether they equal the shipped ones, then scores the
held-out records — with the band they were written with (the Monte-Carlo band), recalibrated
(``ttjax.benchmark.with_band``) and, when the fit differs from it, with the shipped calibration —
and the tuning records leave-one-case-out (``ttjax.benchmark.loco_band_coverage``: each case's
band fitted on the other cases; cases of the same key in several files are left out together),
per backbone × optimizer, per regime group and per momentum group: coverage of the real Tε and
the band's median width as a fraction of T. Writes ``band_calibration.{json,csv,png}`` under
``--out`` and prints the table.

    python scripts/bench_band_calibration.py
    python scripts/bench_band_calibration.py --tune results/bench_v2_tune_cheap.jsonl \\
        --heldout results/bench_v3_heldout_path.jsonl --out results/band_calibration
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ttjax import BAND_CALIBRATION, BandCalibration, TTJaxError
from ttjax.benchmark import (
    MOMENTUM_GROUPS,
    Split,
    band_coverage,
    calibrate_band,
    case_split,
    check_script_paths,
    latest_records,
    loco_band_coverage,
    loco_with_band,
    momentum_group,
    read_records,
    record_momentum,
    with_band,
    write_table,
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tune", nargs="+", default=["results/bench_v2_tune_cheap.jsonl"],
                    help="benchmark records (JSON lines) to fit on: tuning cases")  # fmt: skip
    ap.add_argument("--heldout", nargs="+", default=["results/bench_v3_heldout_path.jsonl"],
                    help="benchmark records to score: their held-out cases")  # fmt: skip
    ap.add_argument("--coverage", type=float, default=0.9)
    ap.add_argument("--out", default="out/band_calibration")
    ap.add_argument("--by-momentum", action="store_true",
                    help="also fit one calibration per momentum group (0 / heavy ball) and "
                         "score it (band 'by-mom', leave-one-case-out 'loco-mom')")  # fmt: skip
    ap.add_argument("--small", action="store_true", help="CI: the same (it reads records only)")
    args = ap.parse_args(argv)

    check_script_paths(
        ap, records=[*args.tune, *args.heldout], out=args.out, flag="--tune/--heldout"
    )
    try:  # too few cases or groups to fit (or leave one out): one line, nothing written
        cal, shipped, by_momentum, rows = _score(args)
    except (TTJaxError, ValueError) as err:
        ap.error(str(err))

    header = f"{'half':8} {'band':10} {'backbone':22} {'opt':4} {'group':10} {'pairs':>5} "
    print(header + f"{'coverage':>9} {'width/T':>8} {'med err':>8}")
    for r in rows:
        print(
            f"{r['half']:8} {r['band']:10} {r['backbone']:22} {r['optimizer']:4} {r['group']:10} "
            f"{r['pairs']:5d} {r['coverage']:9.0%} {r['median_width_T']:8.2f} "
            f"{r['median_rel_error']:8.0%}"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "fitted": cal.to_dict(),
        "equals_shipped": shipped,
        "fitted_by_momentum": {group: c.to_dict() for group, c in by_momentum.items()},
        "tune_records": args.tune,
        "heldout_records": args.heldout,
        "rows": rows,
    }
    write_table(out, "band_calibration", rows, doc)
    _plot(rows, out / "band_calibration.png")
    print(f"wrote {out}/band_calibration.{{json,csv,png}}")


def _score(
    args: argparse.Namespace,
) -> tuple[BandCalibration, bool, dict[str, BandCalibration], list[dict[str, Any]]]:
    """Fit on the tuning records and score every band: (fit, equals the shipped one, the
    per-momentum-group fits, the table's rows)."""
    tune = [r for f in args.tune for r in latest_records(read_records(f))
            if case_split(r["key"]) is Split.TUNE]  # fmt: skip
    held = [r for f in args.heldout for r in latest_records(read_records(f))
            if case_split(r["key"]) is Split.HELDOUT]  # fmt: skip
    cal = calibrate_band(tune, coverage=args.coverage, source=", ".join(args.tune))
    shipped = cal.linear == BAND_CALIBRATION.linear and cal.other == BAND_CALIBRATION.other
    print(
        f"fitted on {len(tune)} tuning records ({cal.cases} cases linear/other, {cal.pairs} "
        f"pairs): linear ×[{cal.linear[0]:.3f}, {cal.linear[1]:.3f}], other "
        f"×[{cal.other[0]:.3f}, {cal.other[1]:.3f}]; equals ttjax.BAND_CALIBRATION: {shipped}"
    )
    by_momentum: dict[str, BandCalibration] = {}  # momentum group → its tuning records' fit
    if args.by_momentum:
        for group in MOMENTUM_GROUPS:
            c = calibrate_band(_in(tune, group), coverage=args.coverage)
            by_momentum[group] = c
            print(f"  {group}: {c.cases} cases, linear ×[{c.linear[0]:.3f}, {c.linear[1]:.3f}], "
                  f"other ×[{c.other[0]:.3f}, {c.other[1]:.3f}]")  # fmt: skip
    rows: list[dict[str, Any]] = []
    for half, recs in (("heldout", held), ("tune", tune)):
        bands = [("model", recs), ("calibrated", with_band(recs, cal))]
        if not shipped:
            bands.append(("shipped", with_band(recs, BAND_CALIBRATION)))
        if by_momentum:
            bands.append(("by-mom", [s for group, c in by_momentum.items()
                                     for s in with_band(_in(recs, group), c)]))  # fmt: skip
        scores = [(band, s) for band, scored in bands for s in band_coverage(scored)]
        if half == "tune":  # the honest tuning-half estimate: each case's band fitted without it
            scores += [("loco", s) for s in loco_band_coverage(tune, coverage=args.coverage)]
            if by_momentum:
                loco = [s for g in by_momentum
                        for s in loco_with_band(_in(tune, g), coverage=args.coverage)]  # fmt: skip
                scores += [("loco-mom", s) for s in band_coverage(loco)]
        rows += [{"half": half, "band": band, **dataclasses.asdict(s)} for band, s in scores]

    return cal, shipped, by_momentum, rows


def _in(records: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """The records whose case is in momentum group ``group``."""
    return [r for r in records if momentum_group(record_momentum(r)) == group]


def _plot(rows: list[dict[str, object]], path: Path) -> None:
    held = [r for r in rows if r["half"] == "heldout" and r["group"] == "all"]
    labels = sorted({f"{r['backbone']} {r['optimizer']}" for r in held})
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, band in enumerate(("model", "calibrated")):
        by = {f"{r['backbone']} {r['optimizer']}": r for r in held if r["band"] == band}
        xs = [j + 0.38 * i for j in range(len(labels))]
        axes[0].bar(xs, [by[k]["coverage"] for k in labels], width=0.38, label=band)
        axes[1].bar(xs, [by[k]["median_width_T"] for k in labels], width=0.38, label=band)
    for ax, title in zip(
        axes, ("held-out coverage of real Tε", "median band width / T"), strict=True
    ):
        ax.set_xticks([j + 0.19 for j in range(len(labels))], labels, rotation=30, ha="right")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].axhline(0.9, color="k", lw=0.8, ls=":", label="nominal 90%")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
