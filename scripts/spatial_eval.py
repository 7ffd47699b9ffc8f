"""The pretrained spatial model alone (no fine-tuning) on held-out sequences: the floor the Booster starts from.

    python scripts/spatial_eval.py --weights-pattern /tmp/vsodboost-cv/spatial_fold{k}.pt --out /tmp/vsodboost-spatial
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from folds import fold_of  # noqa: E402

from vsodboost.booster import write_map_atomic  # noqa: E402
from vsodboost.datasets import find_shared_data, read_dataset  # noqa: E402
from vsodboost.metrics.evaluate import evaluate_folders  # noqa: E402
from vsodboost.spatial import load_unet_checkpoint, predict_maps  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights-pattern", required=True, help="path with {k} for the fold")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--input-size", type=int, default=224)
    args = ap.parse_args()
    data = find_shared_data()
    report = {}
    for folder, layout, kw in (("DAVIS2016", "davis", {"split": "val"}), ("ViSal", "davsod", {})):
        seqs = read_dataset(data / folder, layout, **kw)
        for seq in seqs:
            model = load_unet_checkpoint(args.weights_pattern.format(k=fold_of(data, seq.name)), cls_head=False)
            video = seq.video()
            out = args.out / folder / seq.name
            out.mkdir(parents=True, exist_ok=True)
            stems = set(seq.annotated)
            idx = [i for i, n in enumerate(video.names) if n in stems]
            import torch

            frames = torch.stack([video.tensor(i, i + 1)[0] for i in idx])
            maps = predict_maps(model, frames, input_size=args.input_size)
            for i, m in zip(idx, maps):
                write_map_atomic(out / f"{video.names[i]}.png", m.numpy())
        r = evaluate_folders(args.out / folder, data / folder, layout=layout, progress=False,
                             sequences=[s.name for s in seqs])
        report[folder] = {k: r[k] for k in ("frames", "maxF", "S", "MAE", "meanE", "wF")}
        print(folder, report[folder], flush=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
