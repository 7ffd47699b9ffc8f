"""Regenerate docs/benchmarks.md: `vsodboost bench` on ../shared/data with cross-validated weights.

PDB's published maps on DAVIS-2016 (the 10 `val` sequences) and MGA's on ViSal (17 sequences). Cross-validation
(scripts/folds.py, as scripts/booster_cv.py): a sequence is boosted only with the MQPM and spatial weights of the
fold that holds it out. This script writes, per dataset, a JSON file mapping each sequence to its fold's weights and
passes it to ONE `vsodboost bench` call (`--mqpm MAP.json --spatial MAP.json`), so each dataset gets one report with
every sequence; then it assembles docs/benchmarks.md from the reports. Every number in the doc comes from a
report.json (frame-averaged unless a table says otherwise); nothing is typed by hand.

    OMP_NUM_THREADS=1 python scripts/make_benchmarks_doc.py --cv-dir /tmp/vsodboost-cv --work /tmp/vsodboost-bench \
        [--config cfg.json] [--sets davis visal] [--protocols table1,table2,table3,table5,table6,table8] \
        [--sequences a,b] [--doc docs/benchmarks.md]

`--cv-dir` holds mqpm_fold{k}.pt and spatial_fold{k}.pt (scripts/mqpm_train_cv.py, scripts/spatial_pretrain_cv.py).
`--shipped-weights` benches with the package's default weights instead (NOT cross-validated: they were trained on
these very sequences; the doc then says so in its first lines). Rerunning resumes: finished sequences are skipped.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from folds import N_FOLDS, fold_of, held_out  # noqa: E402

from vsodboost.bench._report import render_markdown  # noqa: E402
from vsodboost.datasets import find_shared_data  # noqa: E402

SETS = {
    "davis": {"folder": "DAVIS2016", "layout": "davis", "split": "val", "method": "PDB"},
    "visal": {"folder": "ViSal", "layout": "davsod", "split": None, "method": "MGA"},
}
REPO = Path(__file__).resolve().parent.parent


def _weights_maps(data: Path, cv_dir: Path, folder: str, work: Path) -> tuple[Path, Path]:
    mq, sp = {}, {}
    for k in range(N_FOLDS):
        for seq in held_out(data, k)[folder]:
            assert fold_of(data, seq) == k
            mq[seq] = str(cv_dir / f"mqpm_fold{k}.pt")
            sp[seq] = str(cv_dir / f"spatial_fold{k}.pt")
    missing = sorted({p for p in [*mq.values(), *sp.values()] if not Path(p).is_file()})
    if missing:
        sys.exit(f"missing cross-validated weights: {missing}; train them (scripts/mqpm_train_cv.py, "
                 "scripts/spatial_pretrain_cv.py) or pass --shipped-weights for a non-cross-validated run")
    work.mkdir(parents=True, exist_ok=True)
    (work / "mqpm_weights.json").write_text(json.dumps(mq, indent=2))
    (work / "spatial_weights.json").write_text(json.dumps(sp, indent=2))
    return work / "mqpm_weights.json", work / "spatial_weights.json"


def _summary_table(reports: dict[str, dict]) -> str:
    head = "| target | dataset | frames | maxF | S | MAE | meanE | wF |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for key, r in reports.items():
        t, b = r["target"], r["boosted"]
        cells = []
        for k in ("maxF", "S", "MAE", "meanE", "wF"):
            d = b[k] - t[k]
            fmt = ".4f" if k == "MAE" else ".3f"
            cells.append(f"{t[k]:{fmt}} → {b[k]:{fmt}} ({d:+{fmt}})")
        lines.append(f"| {t['name']} | {SETS[key]['folder']} | {t['frames']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv-dir", type=Path, help="mqpm_fold{k}.pt and spatial_fold{k}.pt")
    ap.add_argument("--shipped-weights", action="store_true", help="use the package's weights (not cross-validated)")
    ap.add_argument("--work", type=Path, required=True, help="bench output folders (resumable)")
    ap.add_argument("--config", type=Path, help="BoostConfig JSON (default: the package's defaults)")
    ap.add_argument("--sets", nargs="*", default=["davis", "visal"], choices=list(SETS))
    ap.add_argument("--protocols", default="table1,table2,table3,table5,table6,table8")
    ap.add_argument("--sequences", default="", help="restrict (smoke runs); the doc then says which")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = ap.parse_args()
    if not args.shipped_weights and not args.cv_dir:
        ap.error("give --cv-dir (cross-validated weights) or --shipped-weights")
    data = find_shared_data()
    if data is None:
        sys.exit("../shared/data not found (set VSODBOOST_DATA)")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    reports, commands = {}, []
    for key in args.sets:
        s = SETS[key]
        out = args.work / s["folder"]
        if args.shipped_weights:
            mq, sp = "default", "default"
        else:
            mq, sp = (str(p) for p in _weights_maps(data, args.cv_dir, s["folder"], args.work / f"weights-{key}"))
        cmd = ["vsodboost", "bench", "--data", str(data / s["folder"]), "--layout", s["layout"],
               "--target", f"precomputed:{data / 'results' / s['method'] / s['folder']}",
               "--target-label", s["method"], "--mqpm", mq, "--spatial", sp, "--out", str(out),
               "--device", args.device, "--threads", str(args.threads), "--protocol", args.protocols]
        if s["split"]:
            cmd += ["--split", s["split"]]
        if args.config:
            cmd += ["--config", str(args.config)]
        if args.sequences:
            names = {d.name for d in (data / s["folder"] / ("JPEGImages/480p" if key == "davis" else "")).iterdir()}
            only = [q for q in args.sequences.split(",") if q in names]
            if not only:
                continue
            cmd += ["--sequences", ",".join(only)]
        commands.append(shlex.join(cmd))
        print("$", commands[-1], flush=True)
        subprocess.run([sys.executable, "-m", "vsodboost.cli", *cmd[1:]], check=True, env=env)
        reports[key] = json.loads((out / "report.json").read_text())

    first = next(iter(reports.values()))
    dev, ver = first["device"], first["versions"]
    cfg = json.loads(args.config.read_text()) if args.config else "the package's BoostConfig defaults"
    lines = [
        "# Benchmarks on ../shared/data",
        "",
        f"Generated by `scripts/make_benchmarks_doc.py` on {_dt.date.today().isoformat()}; do not edit by hand "
        "(rerun the script). Every number below is read from the `report.json` that `vsodboost bench` wrote.",
        "",
    ]
    if args.shipped_weights:
        lines += ["> **Not cross-validated.** These numbers use the shipped weights, which were trained on these very "
                  "sequences; they show the pipeline, not its generalisation.", ""]
    else:
        lines += ["Weights are cross-validated (scripts/folds.py): each sequence is boosted only with the MQPM and "
                  "spatial weights of the fold that holds it out, passed to `bench` as a sequence → checkpoint JSON "
                  f"mapping (`--mqpm` / `--spatial`). Fold weights: `{args.cv_dir}`.", ""]
    if args.sequences:
        lines += [f"> **Subset run**: only {args.sequences}.", ""]
    lines += [
        f"Machine: {dev['device']}" + (f" ({dev['gpu']})" if dev.get("gpu") else "")
        + f", {dev['processor']}, {dev['cpu_count']} CPU core(s), {dev['torch_threads']} torch thread(s), "
        f"{dev['platform']}; vsodboost {ver['vsodboost']}, torch {ver['torch']}, python {ver['python']}. "
        f"Config: `{json.dumps(cfg)}`.",
        "",
        "Data: DAVIS-2016 (Perazzi et al., CVPR 2016), 10 `val` sequences; ViSal (Wang, Shen, Shao, TIP 2015). "
        "Targets: the published maps of PDB (Song et al., ECCV 2018) on DAVIS and MGA (Li et al., ICCV 2019) on ViSal.",
        "",
        "Commands:",
        "",
        "```",
        *commands,
        "```",
        "",
        "## Summary (Table V): target → boosted (Δ), frame-averaged over annotated frames",
        "",
        _summary_table(reports),
        "",
    ]
    for key, r in reports.items():
        lines += [render_markdown(r, level=2, figures=False)]
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text("\n".join(lines))
    print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
