"""``vsodboost demo``: boost an imperfect target on a synthetic clip, offline, in a few minutes at most on CPU.

The clip is made on the fly (nothing is downloaded): a textured object moves over a panning textured background;
its ground truth is known. The *target* is a deliberately imperfect VSOD model: its maps are blurred versions of the
truth that, on some frames, miss part of the object or fire on a background blob (the kinds of errors real VSOD
models make on hard frames). The Booster mines the frames whose motion is reliable, keeps those where motion and
target agree, fine-tunes the spatial model on them and predicts every frame.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .testing import ArrayTarget, synthetic_clip

__all__ = ["synthetic_clip", "ArrayTarget", "run_demo"]  # the first two live in vsodboost.testing


def _panel(frames: Sequence[np.ndarray], rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str],
           idx: Sequence[int]) -> np.ndarray:
    tiles = []
    for i in idx:
        cols = [frames[i][:, :, ::-1]] + [cv2.cvtColor((r[i] * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR) for r in rows]
        tiles.append(np.concatenate(cols, axis=1))
    grid = np.concatenate(tiles, axis=0)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    w = frames[0].shape[1]
    for k, lab in enumerate(["frame", *labels]):
        cv2.putText(header, lab, (k * w + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, grid], axis=0)


def dataset_scores(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> dict[str, float]:
    """maxF / S / MAE of float maps against binary masks, the field's way (8-bit maps, frame-averaged)."""
    import torch

    from .metrics import frame_metrics

    pred = torch.from_numpy(np.stack([np.clip(m * 255 + 0.5, 0, 255).astype(np.uint8) for m in maps]))
    gt = torch.from_numpy(np.stack([(m > 0.5).astype(np.uint8) * 255 for m in masks]))
    m = frame_metrics(pred, gt)
    return {"maxF": float(m["F_curve"].mean(0).max()), "S": float(m["S"].mean()), "MAE": float(m["MAE"].mean())}


def run_demo(out_dir: str | os.PathLike[str] = "vsodboost-demo", *, frames: int = 40, device: str = "auto",
             seed: int = 0, quiet: bool = False, progress: bool = False,
             threads: int = 1) -> dict[str, dict[str, float]]:
    """Run the demo; returns ``{"target", "boosted", "boosted_mean", "boosted_geometric"}`` metrics against the synthetic truth.

    The clip's target misses parts of the object on some frames; ``replace`` (the paper's output) recovers them,
    the ``mean`` fusion (the default) halves a target's miss and ``geometric`` (the ``fast`` preset's) keeps it —
    all three are printed. ``progress`` shows the Booster's bar (frames, and the stage); ``threads`` as the
    Booster's (torch CPU threads while it computes; 0 leaves torch's setting)."""
    from .booster import Booster, BoostConfig, fuse_maps

    clip, masks, target_maps = synthetic_clip(frames, seed=seed)
    # the default spatial model with the paper's "replace"; "mean" (default) and "geometric" come from the same maps
    booster = Booster(ArrayTarget(target_maps, name="imperfect_target"), config=BoostConfig(fusion="replace"),
                      device=device, seed=seed, threads=threads)
    if not quiet:
        print(f"vsodboost demo: {frames} synthetic frames (320×240), target = an imperfect VSOD model; device "
              f"{booster.device}")
    result = booster.run(np.stack(clip), name="demo", progress=progress)
    tgt = dataset_scores([result.target[i] for i in range(frames)], masks)  # type: ignore[misc]
    bst = dataset_scores(result.boosted, masks)
    geo = dataset_scores([fuse_maps(b, t, "geometric") for b, t in zip(result.boosted, result.target)], masks)
    mean = dataset_scores([fuse_maps(b, t, "mean") for b, t in zip(result.boosted, result.target)], masks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "maps", overwrite=True)
    idx = np.linspace(0, frames - 1, 4).round().astype(int)
    tgt_list = [result.target[i] for i in range(frames)]
    cv2.imwrite(str(out / "side_by_side.png"),
                _panel(clip, [masks, tgt_list, result.boosted], ["ground truth", "target", "boosted (replace)"], idx))
    writer = cv2.VideoWriter(str(out / "side_by_side.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (clip[0].shape[1] * 4, clip[0].shape[0]))
    for i in range(frames):
        writer.write(_panel(clip, [masks, tgt_list, result.boosted], ["", "", ""], [i])[28:])
    writer.release()
    if not quiet:
        t = result.timings
        print(f"mined {len(result.mined)} of {frames} frames ({', '.join(result.names[i] for i in result.mined)}); "
              f"time: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.items()))
        print(f"{'':30}{'maxF':>8}{'S':>8}{'MAE':>8}")
        for lab, m in (("target", tgt), ("boosted (replace, the paper)", bst), ("boosted (mean fusion, default)", mean),
                       ("boosted (geometric fusion)", geo)):
            print(f"{lab:30}{m['maxF']:8.3f}{m['S']:8.3f}{m['MAE']:8.3f}")
        print(f"wrote {out / 'side_by_side.png'}, {out / 'side_by_side.mp4'} and maps in {out / 'maps'}")
    return {"target": tgt, "boosted": bst, "boosted_mean": mean, "boosted_geometric": geo}
