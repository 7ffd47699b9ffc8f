"""The pretrained spatial model alone (no fine-tuning) on held-out sequences: the floor the Booster starts from, and
the zero-shot ensemble baseline (the spatial model's map fused with the target's, no fine-tuning).

    python scripts/spatial_eval.py --weights-pattern /tmp/vsodboost-cv/spatial_fold{k}.pt --out /tmp/vsodboost-spatial
    python scripts/spatial_eval.py --spatial u2netp --input-size 320 --out /tmp/u2netp-zero-shot --threads 1

``--spatial NAME`` takes a registry model for every sequence (no cross-validation is needed for a model that never
saw ../shared/data, such as the DUTS-trained ``u2netp``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folds import fold_of

import cv2
import numpy as np

from vsodboost.io import read_unit_map as read_map
from vsodboost.fusion import fuse_maps
from vsodboost.io import write_map_atomic
from vsodboost.datasets import find_shared_data, read_dataset
from vsodboost.metrics.evaluate import evaluate_folders
from vsodboost.models.checkpoint import load_unet_checkpoint
from vsodboost.spatial import predict_maps
from vsodboost.datasets import SHARED_SETS


TARGETS = {s.folder: s.method for s in SHARED_SETS.values()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights-pattern", help="path with {k} for the fold")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--spatial", help="a spatial registry name or checkpoint used for every sequence instead of "
                    "--weights-pattern")
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.spatial and not args.weights_pattern:
        ap.error("give --weights-pattern or --spatial")
    shared = None
    if args.spatial and Path(args.spatial).is_file():  # a checkpoint, e.g. `vsodboost train spatial --init u2netp`
        from vsodboost.spatial import spatial_from_file

        shared = spatial_from_file(args.spatial)
    elif args.spatial:
        from vsodboost import plugins

        shared = plugins.spatial_models().create(args.spatial)
    data = find_shared_data()
    report = {}
    for folder, layout, kw in (("DAVIS2016", "davis", {"split": "val"}), ("ViSal", "davsod", {})):
        seqs = read_dataset(data / folder, layout, **kw)
        for seq in seqs:
            model = shared if shared is not None else load_unet_checkpoint(
                args.weights_pattern.format(k=fold_of(data, seq.name)), cls_head=False)
            video = seq.video()
            out = args.out / folder / seq.name
            out.mkdir(parents=True, exist_ok=True)
            stems = set(seq.annotated)
            idx = [i for i, n in enumerate(video.names) if n in stems]
            frames = torch.stack([video.tensor(i, i + 1)[0] for i in idx])
            maps = predict_maps(model, frames, input_size=args.input_size)
            for i, m in zip(idx, maps):
                write_map_atomic(out / f"{video.names[i]}.png", m.numpy())
        r = evaluate_folders(args.out / folder, data / folder, layout=layout, progress=False,
                             sequences=[s.name for s in seqs])
        report[folder] = {k: r[k] for k in ("frames", "maxF", "S", "MAE", "meanE", "wF")}
        print(folder, report[folder], flush=True)
        # zero-shot ensemble: the same maps fused with the target's (geometric), where the target has a map
        method = TARGETS[folder]
        fused = args.out.parent / f"{args.out.name}__geometric_{method}" / folder
        for seq in seqs:
            (fused / seq.name).mkdir(parents=True, exist_ok=True)
            for f in sorted((args.out / folder / seq.name).glob("*.png")):
                t_file = data / "results" / method / folder / seq.name / f.name
                b = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
                t = read_map(t_file, b.shape) if t_file.is_file() else None
                write_map_atomic(fused / seq.name / f.name, fuse_maps(b, t, "geometric"))
        r = evaluate_folders(fused, data / folder, layout=layout, progress=False, sequences=[s.name for s in seqs])
        report[f"{folder}__geometric_{method}"] = {k: r[k] for k in ("frames", "maxF", "S", "MAE", "meanE", "wF")}
        print(folder, f"geometric with {method}", report[f"{folder}__geometric_{method}"], flush=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
