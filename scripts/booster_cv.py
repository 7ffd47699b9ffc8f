"""Cross-validated Booster evidence on ../shared/data (docs/booster.md, Table V protocol).

A sequence is boosted only with the MQPM and spatial weights of the fold that holds it out (scripts/folds.py), so no
model ever saw its ground truth. Targets: PDB's published maps on DAVIS, MGA's on ViSal. Maps are evaluated with
`vsodboost.metrics.evaluate_folders` (pysodmetrics conventions, frame-averaged over annotated frames).

    python scripts/booster_cv.py --cv-dir /tmp/vsodboost-cv --out /tmp/vsodboost-boost/default \
        [--config cfg.json] [--sets davis visal] [--sequences a,b] [--threads 2] [--spatial u2netp]

``--spatial NAME`` boosts with a registry spatial model instead of ``spatial_fold{k}.pt``: right for a model that
never saw ../shared/data (the DUTS-trained ``u2netp``); the MQPM stays per fold.

Table V is scored as ``vsodboost bench`` scores it (its ``block_of`` and ``gain_of``). ``OUT/report.json``::

    config                      the BoostConfig used
    sets.<folder>.method        the target (PDB, MGA)
    sets.<folder>.timing        per sequence: seconds, frames, mined
    sets.<folder>.target        the target's maps: a bench report block — frames, maxF, meanF, adpF, S, MAE, meanE,
                                wF (frame-averaged), average, video_average, per_sequence, missing
    sets.<folder>.boosted       the written maps (the configured fusion): a block, plus gain (boosted − target:
                                overall, video_average, per_sequence)
    sets.<folder>.boosted_mean, .boosted_geometric
                                those maps fused with the target's by mean / geometric fusion: a block plus gain
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from folds import fold_of

from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.runner import run_to_dir
from vsodboost.bench import block_of, gain_of
from vsodboost.datasets import find_shared_data, read_dataset
from vsodboost.io import read_unit_map
from vsodboost.metrics.evaluate import evaluate_folders
from vsodboost.models.checkpoint import load_unet_checkpoint
from vsodboost.datasets import SHARED_SETS

SETS = {k: (s.folder, s.layout, s.method, {"split": s.split} if s.split else {}) for k, s in SHARED_SETS.items()}


def _fuse_folders(boosted_root: Path, target_root: Path, names: list[str]) -> dict[str, Path]:
    """The fusion options computed from the written (``replace``) maps and the target's maps, on annotated frames
    only (where the target has maps); frames without a target map keep the boosted map, as the Booster does."""
    import cv2
    import numpy as np

    from vsodboost.fusion import fuse_maps
    from vsodboost.io import write_map_atomic

    out = {}
    for how in ("mean", "geometric"):
        root = boosted_root.parent / f"{boosted_root.name}__{how}"
        for seq in names:
            tdir = target_root / seq
            (root / seq).mkdir(parents=True, exist_ok=True)
            for f in sorted((boosted_root / seq).glob("*.png")):
                b = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
                t_file = tdir / f.name
                t = read_unit_map(t_file, b.shape) if t_file.is_file() else None
                write_map_atomic(root / seq / f.name, fuse_maps(b, t, how))
        out[how] = root
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cv-dir", type=Path, required=True, help="holds mqpm_fold{k}.pt and spatial_fold{k}.pt")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--sets", nargs="*", default=["davis", "visal"])
    ap.add_argument("--sequences", default="")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--spatial", help="spatial registry name for every fold (default: CV-DIR/spatial_fold{k}.pt)")
    ap.add_argument("--random-frames", action="store_true",
                    help="control: as many frames per buffer as the MQPM keeps, drawn at random among frames with a "
                         "target map (mining vs random, same pseudo-GT and fusion)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = find_shared_data()
    config = BoostConfig.from_dict(json.loads(args.config.read_text())) if args.config else BoostConfig()
    only = set(filter(None, args.sequences.split(",")))
    report = {"config": config.to_dict(), "sets": {}}
    models: dict[int, tuple] = {}
    for key in args.sets:
        folder, layout, method, kw = SETS[key]
        seqs = [s for s in read_dataset(data / folder, layout, **kw) if not only or s.name in only]
        target = adapters.precomputed(data / "results" / method / folder, name=method.lower())
        timing = {}
        for seq in seqs:
            k = fold_of(data, seq.name)
            if k not in models:
                from vsodboost.mqpm import load_mqpm

                from vsodboost import plugins

                models[k] = (load_mqpm(args.cv_dir / f"mqpm_fold{k}.pt"),
                             plugins.spatial_models().create(args.spatial) if args.spatial else
                             load_unet_checkpoint(args.cv_dir / f"spatial_fold{k}.pt", cls_head=False))
            mqpm, spatial = models[k]
            cls = Booster
            if args.random_frames:
                from vsodboost.bench._runs import random_frames_booster as cls  # type: ignore[assignment]
            booster = cls(target, mqpm=mqpm, spatial=spatial, config=config, device="cpu")
            t0 = time.time()
            summary = run_to_dir(booster, seq.video(), args.out / folder / seq.name, name=seq.name)
            timing[seq.name] = {"seconds": round(time.time() - t0, 1), "frames": len(seq.frames),
                                "mined": sum(len(b["mined"]) for b in summary["buffers_done"].values())}
            print(f"{folder}/{seq.name}: fold {k}, {timing[seq.name]}", flush=True)
        names = [s.name for s in seqs]
        fused = _fuse_folders(args.out / folder, data / "results" / method / folder, names)
        roots = {"target": data / "results" / method / folder, "boosted": args.out / folder,
                 **{f"boosted_{how}": root for how, root in fused.items()}}
        blocks = {w: block_of(evaluate_folders(root, data / folder, layout=layout, sequences=names, progress=False))
                  for w, root in roots.items()}
        t = blocks.pop("target")
        report["sets"][folder] = {"method": method, "timing": timing, "target": t,
                                  **{w: {**b, "gain": gain_of(t, b)} for w, b in blocks.items()}}
        b = blocks["boosted"]
        for how in fused:
            f_ = blocks[f"boosted_{how}"]
            print(f"  fusion {how}: " + "  ".join(f"{m} {f_[m]:.4f} ({f_[m] - t[m]:+.4f})"
                                                 for m in ("maxF", "S", "MAE", "meanE", "wF")))
        print(f"\n{folder} ({method}, {t['frames']} frames): " + "  ".join(
            f"{m} {t[m]:.4f}→{b[m]:.4f} ({b[m] - t[m]:+.4f})" for m in ("maxF", "S", "MAE", "meanE", "wF")))
        for seq, s_t in t["per_sequence"].items():
            s_b = b["per_sequence"].get(seq)
            if s_b is None:
                continue
            print(f"  {seq:<20} maxF {s_t['maxF']:.3f}→{s_b['maxF']:.3f}  S {s_t['S']:.3f}→{s_b['S']:.3f}"
                  f"  MAE {s_t['MAE']:.4f}→{s_b['MAE']:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
