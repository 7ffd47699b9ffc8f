"""Shared helpers of the MQPM evidence scripts (Θ choice, Table I): per-frame target metrics on ../shared/data.

Frame-level metrics are vsodboost.metrics' (pysodmetrics 1.6.2's conventions, equal to it: tests/test_metrics.py),
on maps read with vsodboost.io.read_map as every other evaluation here; a subset's maxF is the maximum of its
frames' mean F-curve, as :class:`vsodboost.metrics.SODMetrics` computes a frame average.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from vsodboost.datasets import SHARED_SETS, find_shared_data
from vsodboost.mqpm.data import build_flow_sets

CACHE = Path("/tmp/vsodboost-cache")
TARGET = {s.folder: (s.method, s.folder) for s in SHARED_SETS.values()}


def flow_sets():
    root = find_shared_data()
    return build_flow_sets([root / "DAVIS2016", root / "ViSal"], "dis", cache_dir=CACHE)


def target_metrics(sets) -> dict[tuple[str, str, str], dict]:
    """(dataset, seq, stem) → {"fcurve": (256,), "S": float, "MAE": float} for frames with a published map."""
    from vsodboost.io import read_map
    from vsodboost.metrics import frame_metrics

    cache = CACHE / "mqpm_target_metrics_v2.npz"  # v2: our metrics and read_map (v1: pysodmetrics, cv2.imread)
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        keys = [tuple(k.split("|")) for k in z["keys"]]
        return {k: {"fcurve": z["fcurve"][i], "S": float(z["S"][i]), "MAE": float(z["MAE"][i])}
                for i, k in enumerate(keys)}
    root = find_shared_data()
    out = {}
    for fs in sets:
        method, sub = TARGET[fs.dataset]
        for stem in fs.stems:
            mp = root / "results" / method / sub / fs.sequence / f"{stem}.png"
            if not mp.is_file():
                continue
            gt_p = (root / "DAVIS2016/Annotations/480p" / fs.sequence / f"{stem}.png" if fs.dataset == "DAVIS2016"
                    else root / "ViSal" / fs.sequence / "ground-truth" / f"{stem}.png")
            m = frame_metrics(read_map(mp)[0], read_map(gt_p)[0])
            out[(fs.dataset, fs.sequence, stem)] = {"fcurve": m["F_curve"][0].numpy().astype(np.float64),
                                                    "S": float(m["S"][0]), "MAE": float(m["MAE"][0])}
    keys = list(out)
    np.savez(cache, keys=np.array(["|".join(k) for k in keys]),
             fcurve=np.stack([out[k]["fcurve"] for k in keys]), S=np.array([out[k]["S"] for k in keys]),
             MAE=np.array([out[k]["MAE"] for k in keys]))
    return out


def subset_metrics(tm: dict, keys) -> dict:
    keys = [k for k in keys if k in tm]
    if not keys:
        return {"n": 0, "maxF": float("nan"), "S": float("nan"), "MAE": float("nan")}
    return {"n": len(keys), "maxF": float(np.mean([tm[k]["fcurve"] for k in keys], axis=0).max()),
            "S": float(np.mean([tm[k]["S"] for k in keys])), "MAE": float(np.mean([tm[k]["MAE"] for k in keys]))}


def spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a)); rb = np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def flow_images(fs, flip: bool = False) -> torch.Tensor:
    from vsodboost.flow import flow_to_color
    f = torch.from_numpy(fs.flows).float()
    if flip:
        f = f.flip(-1); f[:, 0] = -f[:, 0]
    return flow_to_color(f)


def setup_logging():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
