"""Regenerate docs/benchmarks.md: `vsodboost bench` on ../shared/data, one run per preset, side by side.

PDB's published maps on DAVIS-2016 (the 10 `val` sequences) and MGA's on ViSal (17 sequences). By default with the
shipped weights (`--mqpm default`): the shipped MQPM is trained on DAVIS-TR, so every number is out-of-sample (and
`vsodboost bench` would warn otherwise). `--mqpm-cv-dir` instead cross-validates fold-trained MQPMs
(scripts/folds.py): a sequence is boosted only with the MQPM of the fold that holds it out (a sequence → checkpoint
JSON mapping passed as `--mqpm`). The presets' spatial models (U²-Net-p: DUTS, `quality`'s then DAVIS-TR; Lite0:
ECSSD) never saw a scored sequence of ../shared/data, so they need no folds; `--spatial-cv-dir` maps
`spatial_fold{k}.pt` the same way for models that did. Each `--run PRESET:PROTOCOLS` is one `vsodboost bench` call per dataset into WORK/PRESET/DATASET (resumable:
run the same commands in parallel beforehand and this script only evaluates and assembles); `PRESET:PROTOCOLS@a,b`
restricts that run to sequences a and b (the doc says so). Every number in the doc is read from a report.json;
nothing is typed by hand.

    OMP_NUM_THREADS=1 python scripts/make_benchmarks_doc.py [--mqpm-cv-dir /tmp/cv] --work /tmp/bench \
        --run quality:table1,table5,table7,table8,fig10 --run paper:table1,table5,table7,table8,fig10 \
        --run fast:table1,table3,table5,table7,table8,fig10 [--sets davis visal] [--theta spatial] \
        [--doc docs/benchmarks.md] [--print-commands]
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from folds import N_FOLDS, held_out

from vsodboost.bench import table1_gap_text
from vsodboost.bench._report import render_markdown
from vsodboost.datasets import find_shared_data
from vsodboost.presets import PRESETS
from vsodboost.datasets import SHARED_SETS

SETS = {k: {"folder": s.folder, "layout": s.layout, "split": s.split, "method": s.method}
        for k, s in SHARED_SETS.items()}
REPO = Path(__file__).resolve().parent.parent

#: What still differs from the paper in the `paper` preset, and why (docs/booster.md has the measurements).
PAPER_DIFFERENCES = [
    "**Spatial model**: U²-Net-p (DUTS-TR, its authors' weights; in `quality` and `paper` trained further on DAVIS-TR, as the "
    "paper pretrains its model, Sec. V-C) instead of CPD (the only DUTS-trained saliency model whose weights we can "
    "ship and load offline); fine-tuned at 224² for 30 iterations per buffer (CPU budget).",
    "**Θ of Eq. 1**: the paper applies CPD to the flow image; `--theta spatial` applies U²-Net-p (the same kind of "
    "model). The MQPMs behind these tables were trained with the Θ named in their model card (see the Weights "
    "section of each report).",
    "**MQPM training data**: DAVIS-TR (the 30 DAVIS-2016 `train` sequences, 2,079 frames) as in the paper, without "
    "DAVSOD-TR (not available here); labels from the weight-free Θ `border-contrast-center` (77.6% HQ, the paper "
    "~30%); encoder `tf_efficientnet_lite0` (ImageNet) instead of VGG-16; 128² input, 300 iterations, stages 0–4 "
    "frozen. Two networks of that recipe: the motion map from Eqs. 6–7 summed as the paper writes them "
    "(vsodboost/weights/mqpm_lite0_dis.md), the HQ probability from Eqs. 6–7 averaged (mqpm_lite0_dis_hq.md), "
    "each the better at its output in cross-validation inside DAVIS-TR; the paper trains one network.",
    "**Flow**: OpenCV DIS (`medium`) instead of SPyNet by default (SPyNet, PWC-Net and LiteFlowNet are ported and "
    "selectable; Table VI); flows at ≤ 480 px in the Booster and ≤ 384 px for MQPM training (HQ labels agree on "
    "99.8% of frames between the two sizes, docs/mqpm.md).",
    "**Pseudo-GT**: the target's soft maps (the paper does not say it binarises them); BCE only (Eq. 6 form) in the "
    "`paper` preset, BCE + IoU with deep supervision in `quality`.",
    "**Targets**: PDB (DAVIS) and MGA (ViSal) published maps, not SSAV; Segv2, DAVSOD and VOS are not in "
    "../shared/data.",
]


def _mqpm_map(data: Path, cv_dir: Path, folder: str, work: Path, name: str) -> Path:
    table = {seq: str(cv_dir / f"{name}_fold{k}.pt") for k in range(N_FOLDS) for seq in held_out(data, k)[folder]}
    missing = sorted({p for p in table.values() if not Path(p).is_file()})
    if missing:
        sys.exit(f"missing cross-validated weights: {missing} (scripts/mqpm_train_cv.py)")
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{name}_{folder}.json"
    path.write_text(json.dumps(table, indent=2))
    return path


def _cell(r: dict, k: str) -> str:
    v = r.get(k)
    return "–" if v is None else (f"{v:.4f}" if k == "MAE" else f"{v:.3f}")


def _rows(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def _side_by_side(reports: dict[tuple[str, str], dict]) -> list[str]:
    keys = ("maxF", "meanF", "adpF", "S", "MAE")
    out: list[str] = []
    for folder in dict.fromkeys(f for _, f in reports):
        runs = {p: r for (p, f), r in reports.items() if f == folder}
        first = next(iter(runs.values()))
        t = first["target"]
        out += [f"### {t['name']} on {folder}: Table V", "", f"Frame-averaged over {t['frames']} annotated frames.", ""]
        seqs = {p: tuple(r["dataset"]["sequences"]) for p, r in runs.items()}
        if len(set(seqs.values())) == 1:
            q = next(iter(seqs.values()))
            out += [f"Sequences: {', '.join(q)} ({len(q)}).", ""]
        else:
            out += [f"> **`{p}` ran on {len(q)} sequences** ({', '.join(q)}): rows over different sequences are not "
                    "comparable." for p, q in seqs.items()] + [""]
        rows = [[f"{t['name']} (target)", *(_cell(t, k) for k in keys)]]
        for p, r in runs.items():
            b = r.get("baselines", {})
            if "zero_shot" in b:
                rows.append([f"{PRESETS[p].spatial} zero-shot (no fine-tuning)", *(_cell(b["zero_shot"], k) for k in keys)])
                rows.append([f"{PRESETS[p].spatial} zero-shot fusion ({b['zero_shot_fusion']['fusion']})",
                             *(_cell(b["zero_shot_fusion"], k) for k in keys)])
            rows.append([f"**`{p}`** ({r['config']['fusion']})", *(_cell(r["boosted"], k) for k in keys)])
        out += _rows(["", *keys], [list(x) for x in dict.fromkeys(tuple(x) for x in rows)]) + [""]  # no repeats
        if any("table1" in r for r in runs.values()):
            out += [f"### {folder}: Table I (the target on MQPM HQ vs LQ frames)", ""]
            rows = []
            for p, r in runs.items():
                if "table1" in r:
                    t1 = r["table1"]
                    for side in ("hq", "lq"):
                        rows.append([f"`{p}`: {side.upper()} ({t1['hq_fraction']:.0%} of frames HQ)" if side == "hq"
                                     else f"`{p}`: LQ", str(t1[side]["frames"]), *(_cell(t1[side], k) for k in keys)])
            out += _rows(["", "frames", *keys], rows) + [""]
            gaps: dict[str, list[str]] = {}  # presets with the same MQPM and flows have the same Table I: say it once
            for p, r in runs.items():
                if "table1" in r and (text := table1_gap_text(r["table1"])):
                    gaps.setdefault(text, []).append(f"`{p}`")
            out += [f"{', '.join(ps)}: {text}" for text, ps in gaps.items()]
            out += [""] if out[-1] else []
        if any("table7" in r for r in runs.values()):
            out += [f"### {folder}: Table VII (overall vs the mined training frames)", ""]
            rows = []
            for p, r in runs.items():
                if "table7" in r:
                    for name, row in r["table7"]["rows"].items():
                        rows.append([f"`{p}`: {name}", str(row["frames"]), *(_cell(row, k) for k in keys)])
            out += _rows(["", "frames", *keys], rows) + [""]
        if any("table3" in r for r in runs.values()):
            for p, r in runs.items():
                if "table3" in r:
                    t3 = r["table3"]
                    out += [f"### {folder}: Table III with `{p}`", ""]
                    out += _rows(["", *keys], [[t3["definitions"][k]["label"], *(_cell(v, k2) for k2 in keys)]
                                               for k, v in t3["rows"].items()]) + [""]
        out += [f"### {folder}: Table VIII (1 torch thread, CPU)", ""]
        rows = []
        for p, r in runs.items():
            t8 = r["timings"]
            st = t8["per_stage"]
            rows.append([f"`{p}`", f"{st.get('finetune', {}).get('seconds', 0):.0f}",
                         f"{st.get('predict', {}).get('seconds', 0):.0f}", f"{t8['total_seconds']:.0f}",
                         f"{t8['fps']}", f"{t8.get('inference_fps')}"])
        out += _rows(["", "fine-tuning s", "prediction s", "total s", "FPS end to end", "FPS inference only"],
                     rows) + [""]
        if any("fig10" in r for r in runs.values()):
            out += [f"### {folder}: Fig. 10 (share of frames mined, by the target's quality rank; best first)", ""]
            for p, r in runs.items():
                if "fig10" in r:
                    f10 = r["fig10"]
                    out += [f"- `{p}`: `{' '.join(f'{x:.2f}' for x in f10['normalized'])}` (mined in the better "
                            f"half {f10['mined_in_better_half']}, worse half {f10['mined_in_worse_half']})"]
            out += [""]
    return out


def _shipped_paths(report: dict) -> dict:
    """The report with every weights file that lies in a ``vsodboost/weights/`` folder named by that package-relative
    path: the runs may come from a checkout or snapshot anywhere, the doc names the shipped file (its sha256 stays)."""
    out = copy.deepcopy(report)
    for entries in out.get("weights", {}).values():
        for e in entries:
            prov = e.get("provenance")
            for p in (prov, prov.get("hq") if isinstance(prov, dict) else None):  # an MQPM's HQ network too
                if isinstance(p, dict) and isinstance(p.get("file"), str):
                    parts = Path(p["file"]).parts
                    if len(parts) > 2 and parts[-3:-1] == ("vsodboost", "weights"):
                        p["file"] = "/".join(parts[-3:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mqpm-cv-dir", type=Path, help="mqpm_fold{k}.pt (scripts/mqpm_train_cv.py); default: the "
                    "shipped MQPM (trained on DAVIS-TR: out-of-sample on ../shared/data)")
    ap.add_argument("--spatial-cv-dir", type=Path, help="spatial_fold{k}.pt, for a spatial model that saw the data")
    ap.add_argument("--work", type=Path, required=True, help="bench output folders (resumable)")
    ap.add_argument("--run", action="append", required=True, metavar="PRESET:PROTOCOLS")
    ap.add_argument("--sets", nargs="*", default=["davis"], choices=list(SETS))
    ap.add_argument("--theta", default="default", help="Θ for MS (Table III): bench --theta")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--print-commands", action="store_true", help="print the bench commands and stop")
    ap.add_argument("--note", action="append", default=[], help="a paragraph for the top of the doc (repeatable)")
    args = ap.parse_args()
    data = find_shared_data()
    if data is None:
        sys.exit("../shared/data not found (set VSODBOOST_DATA)")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    reports, commands = {}, []
    for spec in args.run:
        preset, _, rest = spec.partition(":")
        protocols, _, only = rest.partition("@")
        for key in args.sets:
            s = SETS[key]
            out = args.work / preset / s["folder"]
            mq = (_mqpm_map(data, args.mqpm_cv_dir, s["folder"], args.work / "weights", "mqpm")
                  if args.mqpm_cv_dir else "default")
            cmd = ["vsodboost", "bench", "--data", str(data / s["folder"]), "--layout", s["layout"],
                   "--target", f"precomputed:{data / 'results' / s['method'] / s['folder']}",
                   "--target-label", s["method"], "--preset", preset, "--mqpm", str(mq), "--theta", args.theta,
                   "--out", str(out), "--device", "cpu", "--threads", str(args.threads), "--protocol",
                   protocols or "table5"]
            if args.spatial_cv_dir:
                cmd += ["--spatial", str(_mqpm_map(data, args.spatial_cv_dir, s["folder"], args.work / "weights",
                                                   "spatial"))]
            if s["split"]:
                cmd += ["--split", s["split"]]
            if only:
                cmd += ["--sequences", only]
            commands.append(shlex.join(cmd))
            if args.print_commands:
                print(commands[-1])
                continue
            print("$", commands[-1], flush=True)
            subprocess.run([sys.executable, "-m", "vsodboost.cli", *cmd[1:]], check=True, env=env)
            reports[(preset, s["folder"])] = json.loads((out / "report.json").read_text())
    if args.print_commands:
        return
    first = next(iter(reports.values()))
    dev, ver = first["device"], first["versions"]
    lines = [
        "# Benchmarks on ../shared/data",
        "",
        f"Generated by `scripts/make_benchmarks_doc.py` on {_dt.date.today().isoformat()}; do not edit by hand "
        "(rerun the script). Every number below is read from the `report.json` that `vsodboost bench` wrote.",
        "",
        ("Cross-validated (scripts/folds.py): each sequence is boosted only with the MQPM of the fold that holds it "
         f"out (`{args.mqpm_cv_dir}`)." if args.mqpm_cv_dir else
         "Shipped weights, out-of-sample: the default MQPM (two networks: map and HQ probability) is trained on "
         "DAVIS-TR (30 DAVIS-2016 `train` sequences) and saw no sequence scored here; `vsodboost bench` checks "
         "every scored sequence against the training records of the models it uses and printed no in-sample "
         "warning.")
        + " The spatial models are the presets' (`quality`: U²-Net-p trained on DUTS, then on DAVIS-TR, of which "
        "../shared/data holds `bear`, never scored here; `paper`: the same model since 2026-12-05; `fast`: the Lite0 "
        "U-Net, ECSSD).",
        "",
        f"Machine: {dev['device']}" + (f" ({dev['gpu']})" if dev.get("gpu") else "")
        + f", {dev['processor']}, {dev['cpu_count']} CPU core(s), {dev['torch_threads']} torch thread(s), "
        f"{dev['platform']}; vsodboost {ver['vsodboost']}, torch {ver['torch']}, python {ver['python']}. Times were "
        "taken while other jobs shared the two cores.",
        "",
        "Data: " + "; ".join({"davis": "DAVIS-2016 (Perazzi et al., CVPR 2016) `val` sequences, target: the published "
                                        "maps of PDB (Song et al., ECCV 2018)",
                              "visal": "ViSal (Wang, Shen, Shao, TIP 2015), target: the published maps of MGA (Li et "
                                       "al., ICCV 2019)"}[k] for k in args.sets) + ".",
        "",
        *[f"> {n}\n" for n in args.note],
        "Commands:",
        "",
        "```",
        *commands,
        "```",
        "",
        "## What differs from the paper",
        "",
        *[f"- {d}" for d in PAPER_DIFFERENCES],
        "",
        "## The configurations side by side",
        "",
        *_side_by_side(reports),
    ]
    for (preset, folder), r in reports.items():
        lines += [f"## Full report: `{preset}` on {folder}", "",
                  render_markdown(_shipped_paths(r), level=3, figures=False)]
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text("\n".join(lines))
    print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
