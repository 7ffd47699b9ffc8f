"""``vsodboost demo``: boost an imperfect target on a synthetic clip, offline, in a few minutes at most on CPU.

The clip is made on the fly (nothing is downloaded): a textured object moves over a panning textured background;
its ground truth is known. The *target* is a deliberately imperfect VSOD model: its maps are blurred versions of the
truth that, on some frames, miss part of the object or fire on a background blob (the kinds of errors real VSOD
models make on hard frames). The Booster mines the frames whose motion is reliable, keeps those where motion and
target agree, fine-tunes the spatial model on them and predicts every frame.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .io import write_image_atomic
from .report import panel, write_side_by_side
from .testing import ArrayTarget, synthetic_clip

__all__ = ["run_demo", "dataset_scores"]


def _write_report(out: Path, scores: dict[str, dict[str, float]], videos: Sequence[str], mined: Sequence[str],
                  frames: int) -> Path:
    """``report.html``: the scores (the default's row marked), the labelled video and the picture."""
    from .report import image, table, video, write_report

    rows = [[name, m["maxF"], m["S"], m["MAE"]] for name, m in scores.items()]
    how = ("A synthetic clip whose truth is known, and an imperfect target (it misses part of the object "
           "or fires on a background blob on some frames). Columns: frame | ground truth | target | the "
           "default's output (the motion fusion: the boosted and the target map weighed by their agreement with "
           "the motion saliency) | the fine-tuned spatial model alone "
           f"(the paper's replace). Mined frames (framed in green): {', '.join(mined) or 'none'} of "
           f"{frames}.")
    sections = [("Scores against the synthetic truth", table(["", "maxF", "S", "MAE"], rows, highlight=1)),
                ("Every frame", f'<p class="note">{html.escape(how)}</p>'
                 + (video(videos, caption="side by side, every frame") if videos else "")),
                ("Four frames", image("side_by_side.png",
                                      alt="frame, ground truth, target, default, replace"))]
    return write_report(out / "report.html", "vsodboost demo", sections)


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
    """Run the demo; returns ``{"target", "boosted", "boosted_motion", "boosted_mean", "boosted_geometric"}`` metrics
    against the synthetic truth.

    The clip's target misses parts of the object on some frames; ``replace`` (the paper's output) recovers them,
    the ``motion`` fusion (the default) leans, frame by frame, toward whichever map agrees better with the motion
    saliency, ``mean`` halves a target's miss and ``geometric`` (the ``fast`` preset's) keeps it — all four are
    printed. ``progress`` shows the Booster's bar (frames, and the stage); ``threads`` as the
    Booster's (torch CPU threads while it computes; 0 leaves torch's setting)."""
    from .booster import Booster
    from .config import BoostConfig
    from .fusion import fuse_maps

    clip, masks, target_maps = synthetic_clip(frames, seed=seed)
    # the default spatial model with the paper's "replace"; "motion" (default, with the run's recorded weights),
    # "mean" and "geometric" come from the same maps
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
    default = [fuse_maps(b, t, "motion", w) for b, t, w in zip(result.boosted, result.target,
                                                                              result.motion_weight)]
    motion = dataset_scores(default, masks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "maps", overwrite=True)
    idx = [int(i) for i in np.linspace(0, frames - 1, 4).round()]
    tgt_list = [result.target[i] for i in range(frames)]
    rows: list[Sequence[np.ndarray]] = [masks, tgt_list, default, result.boosted]
    labels = ["ground truth", "target", "boosted (default: motion)", "spatial model (replace)"]
    write_image_atomic(out / "side_by_side.png", panel(clip, rows, labels, idx, list(result.mined)))
    videos = write_side_by_side(out, clip, rows, labels, list(result.mined))
    scores = {"target": tgt, "boosted (default: motion fusion)": motion, "boosted (mean fusion)": mean,
              "boosted (geometric fusion)": geo,
              "spatial model alone (replace, the paper)": bst}
    report = _write_report(out, scores, [v.name for v in videos], [result.names[i] for i in result.mined],
                           frames)
    if not quiet:
        t = result.timings
        print(f"mined {len(result.mined)} of {frames} frames ({', '.join(result.names[i] for i in result.mined)}); "
              f"time: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.items()))
        print(f"{'':30}{'maxF':>8}{'S':>8}{'MAE':>8}")
        for lab, m in (("target", tgt), ("boosted (replace, the paper)", bst),
                       ("boosted (motion fusion, default)", motion), ("boosted (mean fusion)", mean),
                       ("boosted (geometric fusion)", geo)):
            print(f"{lab:30}{m['maxF']:8.3f}{m['S']:8.3f}{m['MAE']:8.3f}")
        files = ", ".join(str(p) for p in [report, out / "side_by_side.png", *videos])
        print(f"wrote {files} (mined frames framed in green) and maps in {out / 'maps'}")
    return {"target": tgt, "boosted": bst, "boosted_motion": motion, "boosted_mean": mean, "boosted_geometric": geo}
