"""Per-frame saliency metrics as plain functions on batches of maps.

Every function takes ``pred`` and ``gt`` of shape (H, W) or (B, H, W) (torch tensors on any device, or numpy
arrays) and returns float64 tensors with one value (or one 256-point curve) per frame, on ``pred``'s device.

* ``pred`` ``uint8`` (0-255): pysodmetrics' convention, ``pred / 255`` then per-image min-max (``normalize``
  defaults to True).
* ``pred`` float in [0, 1]: used as is (``normalize`` defaults to False); ``normalize=True`` min-max normalises
  each map (without the ``/ 255``).
* ``gt``: ``uint8`` → ``gt > 128``; float → ``gt > 0.5``; bool as is.

Example (the consistency score of the Booster's filtering, S-measure between two batches of float maps)::

    from vsodboost.metrics import s_measure
    scores = s_measure(motion_maps, target_maps)   # (B,) float64
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from . import _core
from ._core import FrameStats

__all__ = [
    "frame_stats",
    "frame_metrics",
    "mae",
    "s_measure",
    "f_measure_curve",
    "adaptive_f_measure",
    "e_measure_curve",
    "adaptive_e_measure",
    "weighted_f_measure",
]


def prepare(pred: Any, gt: Any, normalize: bool | None = None) -> tuple[Tensor, Tensor, bool, bool]:
    """Validate and convert a pair; returns (pred, gt, is_uint8, normalize); gt is bool, or raw uint8 when the
    prediction is uint8 (thresholded later by the uint8 path)."""
    p = _core.as_batch(pred, "pred")
    g = _core.as_batch(gt, "gt")
    _core.check_pair(p, g)
    if p.dtype == torch.bool:
        p = p.to(torch.float32)
    is_u8 = p.dtype == torch.uint8
    if not is_u8 and not p.is_floating_point():
        raise _core.InputError(f"pred: expected a uint8 or float map, got {p.dtype}; convert it first")
    if normalize is None:
        normalize = is_u8
    if not (g.dtype in (torch.uint8, torch.bool) or g.is_floating_point()):
        raise _core.InputError(f"gt: expected a uint8, bool or float map, got {g.dtype}")
    # uint8 GT stays raw for the uint8 path, which thresholds it (> 128) while packing; see binarize_gt
    return p, (g if is_u8 and g.dtype in (torch.uint8, torch.bool) else _core.binarize_gt(g)), is_u8, bool(normalize)


#: Frames per internal chunk: bounds the float64 temporaries of the pixel path (a 480x854 frame is 3.3 MB each).
CHUNK = 16


def stats_of(p: Tensor, g: Tensor, is_u8: bool, normalize: bool) -> FrameStats:
    """:class:`FrameStats` of prepared inputs, computed in chunks of :data:`CHUNK` frames."""
    parts = []
    for i in range(0, p.shape[0], CHUNK):
        pc, gc = p[i:i + CHUNK].contiguous(), g[i:i + CHUNK].contiguous()
        if is_u8:
            parts.append(_core.stats_uint8(pc, gc, normalize))
        else:
            parts.append(_core.stats_float(_core.float_pred(pc, normalize), gc))
    if len(parts) == 1:
        return parts[0]
    merged = {f.name: getattr(parts[0], f.name) for f in dataclasses.fields(FrameStats)}
    for name, v in merged.items():
        if isinstance(v, Tensor):
            merged[name] = torch.cat([getattr(part, name) for part in parts])
    return FrameStats(**merged)


def frame_stats(pred: Any, gt: Any, *, normalize: bool | None = None) -> FrameStats:
    """Sufficient statistics of each (pred, gt) pair; every metric below derives from them."""
    p, g, is_u8, normalize = prepare(pred, gt, normalize)
    return stats_of(p, g, is_u8, normalize)


def mae(pred: Any, gt: Any, *, normalize: bool | None = None) -> Tensor:
    """Mean absolute error per frame (Perazzi et al., CVPR 2012)."""
    return frame_stats(pred, gt, normalize=normalize).mae


def s_measure(pred: Any, gt: Any, *, alpha: float = 0.5, normalize: bool | None = None) -> Tensor:
    """S-measure per frame (Fan et al., ICCV 2017), α·S_object + (1-α)·S_region; used by the MQPM's Eq. 1 and
    the Booster's consistency filtering."""
    return _core.s_measure_from_stats(frame_stats(pred, gt, normalize=normalize), alpha)


def f_measure_curve(pred: Any, gt: Any, *, beta2: float = 0.3,
                    normalize: bool | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """(precision, recall, F-measure), each (B, 256), at thresholds 255, 254, ..., 0 on ``trunc(255 · pred)``."""
    return _core.f_curves(frame_stats(pred, gt, normalize=normalize), beta2)


def adaptive_f_measure(pred: Any, gt: Any, *, beta2: float = 0.3, normalize: bool | None = None) -> Tensor:
    """F-measure at the adaptive threshold ``min(2 · mean(pred), 1)``."""
    return _core.adaptive_f(frame_stats(pred, gt, normalize=normalize), beta2)


def e_measure_curve(pred: Any, gt: Any, *, normalize: bool | None = None) -> Tensor:
    """E-measure (Fan et al., IJCAI 2018), (B, 256), at thresholds 255 .. 0."""
    return _core.e_curve(frame_stats(pred, gt, normalize=normalize))


def adaptive_e_measure(pred: Any, gt: Any, *, normalize: bool | None = None) -> Tensor:
    """E-measure at the adaptive threshold ``min(2 · mean(pred), 1)``."""
    return _core.adaptive_e(frame_stats(pred, gt, normalize=normalize))


def weighted_f_measure(pred: Any, gt: Any, *, beta2: float = 1.0, normalize: bool | None = None) -> Tensor:
    """Weighted F-measure per frame (Margolin et al., CVPR 2014); 0 for an empty GT, as pysodmetrics."""
    p, g, is_u8, normalize = prepare(pred, gt, normalize)
    return wf_of(p, g, is_u8, normalize, beta2)


def wf_of(p: Tensor, g: Tensor, is_u8: bool, normalize: bool, beta2: float = 1.0) -> Tensor:
    """Weighted F of prepared inputs, in chunks of :data:`CHUNK` frames."""
    from .wfm import weighted_f_from_float

    out = []
    for i in range(0, p.shape[0], CHUNK):
        pc, gc = p[i:i + CHUNK], _core.binarize_gt(g[i:i + CHUNK]).contiguous()
        x = _core.float_pred(pc.to(torch.float64) / 255 if is_u8 else pc, normalize)
        out.append(weighted_f_from_float(x, gc, beta2))
    return torch.cat(out)


def metrics_from_stats(st: FrameStats) -> dict[str, Tensor]:
    """Every per-frame metric of a :class:`FrameStats` (curves are (B, 256), thresholds 255 .. 0)."""
    precision, recall, fm = _core.f_curves(st)
    return {
        "MAE": st.mae,
        "S": _core.s_measure_from_stats(st),
        "F_curve": fm,
        "P_curve": precision,
        "R_curve": recall,
        "adpF": _core.adaptive_f(st),
        "E_curve": _core.e_curve(st),
        "adpE": _core.adaptive_e(st),
    }


def frame_metrics(pred: Any, gt: Any, *, normalize: bool | None = None,
                  weighted_f: bool = False) -> dict[str, Tensor]:
    """All metrics of each frame in one pass: ``MAE, S, adpF, adpE`` (B,), ``F_curve, P_curve, R_curve, E_curve``
    (B, 256) and, with ``weighted_f``, ``wF`` (B,)."""
    out = metrics_from_stats(frame_stats(pred, gt, normalize=normalize))
    if weighted_f:
        out["wF"] = weighted_f_measure(pred, gt, normalize=normalize)
    return out
