"""Fusion rules recomputed from one `vsodboost bench` output folder, on all its annotated frames and on each
cross-validation half (scripts/folds.py): the evidence behind ``BoostConfig.fusion="motion"`` and its
``fusion_gain`` (docs/booster.md, "Fusion guided by motion").

    OMP_NUM_THREADS=1 python scripts/fusion_sweep.py --run OUT/DAVIS2016 --data ../shared/data/DAVIS2016 \
        --layout davis --split val [--spatial-dir runs/zero_shot_320] [--gains 2,4,8,16] [--weights 0.6,0.7]

For every annotated frame the rules combine the run's recorded maps: the fine-tuned spatial model's (``spatial/``,
or ``--spatial-dir`` under the run, e.g. the untuned model's ``runs/zero_shot_320``), the target's (``target/``,
min-max normalised as the Booster reads published maps; ``--raw-target`` for a live target's written maps) and the
MQPM's motion saliency (``motion/``). Rules: ``mean``, a fixed weight ``w`` of the spatial map, ``geometric``,
``replace`` and ``motion`` at each gain (:func:`vsodboost.fusion.motion_weights`, as the Booster computes it, here
from the 8-bit recorded maps). Scores: vsodboost.metrics (pysodmetrics conventions), frame-averaged; a half's maxF
is the max of its mean F-curve. The halves are only a check that a choice is not one half's artefact: every
sequence here is scored, none was trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from vsodboost.datasets import read_dataset
from vsodboost.fusion import fuse_maps, motion_weights
from vsodboost.io import index_maps, read_map, read_unit_map
from vsodboost.mining import consistency
from vsodboost.metrics.accumulator import SODMetrics

sys.path.insert(0, str(Path(__file__).parent))
from folds import N_FOLDS  # noqa: E402


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a bench output folder (OUT/DAVIS2016)")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--layout", default="davis")
    ap.add_argument("--split", default=None)
    ap.add_argument("--spatial-dir", default="spatial", help="the spatial maps' folder under --run")
    ap.add_argument("--raw-target", action="store_true", help="do not min-max normalise the target's maps")
    ap.add_argument("--gains", type=_floats, default=[2.0, 4.0, 8.0, 16.0])
    ap.add_argument("--weights", type=_floats, default=[0.6, 0.7, 0.8])
    args = ap.parse_args()

    seqs = sorted(read_dataset(args.data, args.layout, split=args.split), key=lambda s: s.name)
    names = [s.name for s in seqs]
    rules = (["mean"] + [f"w {w:g}" for w in args.weights] + ["geometric", "replace"]
             + [f"motion, gain {g:g}" for g in args.gains])
    scores = {r: SODMetrics(weighted_f=False) for r in rules}
    for seq in seqs:
        targets = index_maps(args.run / "target" / seq.name)
        for stem in seq.annotated:
            if stem not in targets:
                continue
            gt8 = read_map(seq.gt[stem])[0]  # as `vsodboost eval` reads it; the maps are resized to it
            own = read_unit_map(args.run / args.spatial_dir / seq.name / f"{stem}.png", gt8.shape, normalize=False)
            tgt = read_unit_map(targets[stem], gt8.shape, normalize=not args.raw_target)
            mot = read_unit_map(args.run / "motion" / seq.name / f"{stem}.png", normalize=False)
            b, t, m = (torch.from_numpy(x)[None] for x in (own, tgt, mot))
            fused = {"mean": fuse_maps(own, tgt, "mean"), "geometric": fuse_maps(own, tgt, "geometric"),
                     "replace": own, **{f"w {w:g}": fuse_maps(own, tgt, "motion", w) for w in args.weights}}
            has = np.array([True])
            c_t = consistency(m, t, has, 128)  # the target's agreement, once for every gain (as the Booster's filter)
            for g in args.gains:
                w = motion_weights(m, b, t, has, gain=g, target_consistency=c_t)
                fused[f"motion, gain {g:g}"] = fuse_maps(own, tgt, "motion", float(w[0]))
            for r in rules:
                scores[r].step((np.clip(fused[r], 0, 1) * 255 + 0.5).astype(np.uint8), gt8, sequence=seq.name,
                               names=stem)
        print(f"{seq.name}", file=sys.stderr, flush=True)

    halves = {"all": set(names), **{f"fold {k}": set(names[k::N_FOLDS]) for k in range(N_FOLDS)}}
    print("| rule | " + " | ".join(f"{h} (maxF / S / MAE)" for h in halves) + " |")
    print("|---|" + "---|" * len(halves))
    for r in rules:
        vals, seq_of = scores[r].frame_values(), scores[r]._seq
        cells = []
        for members in halves.values():
            idx = [i for i, s in enumerate(seq_of) if s in members]
            cells.append(f"{float(vals['F_curve'][idx].mean(0).max()):.4f} / {float(vals['S'][idx].mean()):.4f} / "
                         f"{float(vals['MAE'][idx].mean()):.4f}")
        print(f"| {r} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
