"""The last step: the boosted map and the target's map of a frame become one (``BoostConfig.fusion``), and the
checks that decide when the target's maps are kept instead (docs/reliability.md, "Fallbacks").

- ``replace`` — the paper (Sec. V-C): the fine-tuned spatial model's map alone;
- ``motion`` — w · boosted + (1 − w) · target, per frame, where w leans from ½ toward the map that agrees better
  with the MQPM's motion saliency (the S-measure consistency of Sec. V-B, :func:`motion_weights`): the default
  (``quality`` preset);
- ``mean`` — (boosted + target) / 2 (``motion`` with w = ½ on every frame);
- ``geometric`` — sqrt(boosted · target), both must agree (the ``fast`` preset).
"""

from __future__ import annotations

from typing import get_args

import numpy as np
import torch

from .config import BoostConfig, Fusion
from .mining import FLAT, consistency

__all__ = ["fuse_maps", "fuse_buffer", "collapse", "motion_weights", "FUSIONS", "MOTION_GAIN"]

#: The rules :func:`fuse_maps` knows: ``BoostConfig.fusion``'s choices (the ``Fusion`` type), in its order.
FUSIONS: tuple[str, ...] = get_args(Fusion)

#: ``BoostConfig.fusion_gain``'s default: how far a consistency difference tilts the ``motion`` weight from ½
#: (a difference of 1/16 reaches 0 or 1). Measured in docs/booster.md ("Fusion guided by motion").
MOTION_GAIN: float = BoostConfig.fusion_gain


def motion_weights(motion_saliency: torch.Tensor | None, boosted: torch.Tensor, target: torch.Tensor,
                   has: np.ndarray, *, gain: float = MOTION_GAIN, size: int = 128,
                   target_consistency: np.ndarray | None = None) -> np.ndarray:
    """The ``motion`` rule's weight of the boosted map, per frame (T,): w = clip(½ + gain · (c_b − c_t), 0, 1),
    c_b and c_t the S-measure consistencies of the boosted and the target's map (T,H,W) with the MQPM's motion
    saliency (T,h,w) at ``size``² — Sec. V-B's filter score, here deciding which of the two maps a frame trusts.

    ½ (the ``mean``) where the target has no map (``has`` False: those frames keep the boosted map anyway) and
    everywhere when ``motion_saliency`` is None (a buffer that computed no motion). ``target_consistency``: c_t
    where already known (the Booster's filter step, NaN elsewhere); the missing ones are computed here."""
    has = np.asarray(has, dtype=bool)
    w = np.full(len(has), 0.5)
    if motion_saliency is None or not has.any():
        return w
    c_t = np.full(len(has), np.nan) if target_consistency is None else np.asarray(target_consistency, float).copy()
    todo = has & ~np.isfinite(c_t)
    if todo.any():
        c_t[todo] = consistency(motion_saliency, target, todo, size)[todo]
    c_b = consistency(motion_saliency, boosted, has, size)
    w[has] = np.clip(0.5 + gain * (c_b[has] - c_t[has]), 0.0, 1.0)
    return w


def fuse_maps(boosted: np.ndarray, target: np.ndarray | None, how: str,
              weight: float | np.ndarray = 0.5) -> np.ndarray:
    """Combine the boosted and the target's map of a frame, or of stacked frames elementwise (frames without a
    target map keep the boosted map). ``weight``: the ``motion`` rule's weight of the boosted map — a number, or
    one per stacked frame (:func:`motion_weights`); the other rules ignore it."""
    if target is None or how == "replace":
        return boosted
    if how == "motion":
        w = np.asarray(weight, dtype=np.float32)
        if w.ndim == 1:
            w = w.reshape(-1, *([1] * (boosted.ndim - 1)))
        out = boosted - target
        out *= w
        out += target
        return out
    out = boosted + target if how == "mean" else boosted * target  # one new array, then computed in place
    if how == "mean":
        out *= 0.5
        return out
    np.clip(out, 0.0, 1.0, out=out)  # geometric: both must agree
    return np.sqrt(out, out=out)


def collapse(maps: torch.Tensor) -> str:
    """How predicted maps (N,H,W) collapsed ('' when they did not): non-finite values, or every map constant."""
    if not bool(torch.isfinite(maps).all()):
        return "the predicted maps hold NaN or infinite values"
    if bool(((maps.amax(dim=(1, 2)) - maps.amin(dim=(1, 2))) <= FLAT).all()):
        return f"every predicted map is constant ≈ {float(maps.mean()):.3f}"
    return ""


def fuse_buffer(predicted: torch.Tensor, target: torch.Tensor, has: np.ndarray, how: str, *, keep_target: bool,
                pretrained: torch.Tensor | None = None, weights: np.ndarray | None = None) -> torch.Tensor:
    """The buffer's final maps (N,H,W) from the spatial model's ``predicted`` (N,H,W) and the target's maps
    ``target`` (N,H,W), given where ``has`` (N,); nothing given is modified (``replace`` returns ``predicted``).

    ``keep_target`` (every target map flat, or the fine-tuning collapsed): the target's maps as they are, and for
    the frames without one, in order, the pretrained spatial model's maps ``pretrained`` (k,H,W); otherwise
    :func:`fuse_maps` on every frame with a target map (``weights``: the ``motion`` rule's, one per frame; ½ when
    None), ``predicted`` on the others."""
    missing = np.flatnonzero(~np.asarray(has, dtype=bool)).tolist()
    if not keep_target:
        if how == "replace":
            return predicted
        w = 0.5 if weights is None else weights
        fused = fuse_maps(predicted.numpy(), target.numpy(), how, w)  # a new array (numpy's sqrt: exact rounding)
        fused[missing] = predicted.numpy()[missing]  # no buffer-sized temporary: 3 stacks alive at most, as before
        return torch.from_numpy(fused)
    if missing and (pretrained is None or pretrained.shape[0] != len(missing)):
        raise ValueError(f"fuse_buffer: {len(missing)} frame(s) have no target map; pass their pretrained maps")
    out = target.clone()
    if missing:
        out[missing] = pretrained.to(out.dtype)  # type: ignore[union-attr]
    return out
