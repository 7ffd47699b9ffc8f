"""What an exported model (`vsodboost export`: the buffer's fine-tuned spatial model, no target, no fusion) scores
on *later* frames of the same scene, against the target on those frames (issue 22).

    OMP_NUM_THREADS=1 python benchmarks/bench_export_later.py [--adapt 50] [--sequences breakdance,cows,...]

For each DAVIS-2016 `val` sequence of ../shared/data longer than ``--adapt`` frames: boost frames 0 … adapt−1 as
one buffer with the default `quality` preset and PDB's published maps as the target (`Booster.run(...,
keep_models=True)`), export that buffer's model (`BoostResult.export`, TorchScript), run it with
`ExportedSpatial` on the frames after the buffer, and score those maps and PDB's on the same frames
(vsodboost.metrics, frame-averaged). One torch thread.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from vsodboost import Booster, BoostConfig
from vsodboost.adapters import PrecomputedTarget
from vsodboost.datasets import SHARED_SETS, find_shared_data, read_dataset
from vsodboost.export import ExportedSpatial
from vsodboost.io import read_map
from vsodboost.metrics import SODMetrics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapt", type=int, default=50, help="frames the model is adapted on (one buffer)")
    ap.add_argument("--sequences", default="breakdance,car-roundabout,cows,paragliding-launch")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = find_shared_data()
    if data is None:
        raise SystemExit("../shared/data not found (set VSODBOOST_DATA)")
    target = PrecomputedTarget(SHARED_SETS["davis"].target_maps(data), name="PDB")
    booster = Booster(target, config=BoostConfig.from_dict({"buffer_size": args.adapt}), device="cpu", threads=1)
    rows = {}
    for seq in read_dataset(data / "DAVIS2016", "davis", split="val", sequences=args.sequences.split(",")):
        video = seq.video()
        if len(video) <= args.adapt:
            continue
        res = booster.run(video[0: args.adapt],
                          name=seq.name, keep_models=True, progress=False)
        later = list(range(args.adapt, len(video)))
        frames = np.stack([video.tensor(i, i + 1)[0].permute(1, 2, 0).numpy() for i in later])
        with tempfile.TemporaryDirectory() as tmp:
            res.export(tmp, 0, formats=("torchscript",))
            maps = ExportedSpatial(tmp, backend="torchscript", threads=1).predict_frames(frames)
        m_exp, m_tgt = SODMetrics(), SODMetrics()
        for i, m in zip(later, maps):
            stem = video.names[i]
            if stem not in seq.gt:
                continue
            gt, _ = read_map(seq.gt[stem])
            tgt, _ = read_map(SHARED_SETS["davis"].target_maps(data) / seq.name / f"{stem}.png")
            m_exp.step(np.clip(m * 255 + 0.5, 0, 255).astype(np.uint8), gt, sequence=seq.name, names=[stem])
            m_tgt.step(tgt, gt, sequence=seq.name, names=[stem])
        e, t = m_exp.results(average="frame"), m_tgt.results(average="frame")
        rows[seq.name] = {"adapted_on": [0, args.adapt], "scored": len(later),
                          "exported": {k: round(float(e[k]), 4) for k in ("maxF", "S", "MAE")},
                          "target": {k: round(float(t[k]), 4) for k in ("maxF", "S", "MAE")}}
        print(seq.name, rows[seq.name], flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
