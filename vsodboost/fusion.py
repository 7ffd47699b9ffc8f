"""The last step: the boosted map and the target's map of a frame become one (``BoostConfig.fusion``), and the
checks that decide when the target's maps are kept instead (docs/reliability.md, "Fallbacks").

- ``replace`` — the paper (Sec. V-C): the fine-tuned spatial model's map alone;
- ``mean`` — (boosted + target) / 2 (the ``quality`` preset);
- ``geometric`` — sqrt(boosted · target), both must agree (the ``fast`` preset).
"""

from __future__ import annotations

import numpy as np
import torch

from .mining import FLAT

__all__ = ["fuse_maps", "fuse_buffer", "collapse"]


def fuse_maps(boosted: np.ndarray, target: np.ndarray | None, how: str) -> np.ndarray:
    """Combine the boosted and the target's map of a frame, or of stacked frames elementwise (frames without a
    target map keep the boosted map)."""
    if target is None or how == "replace":
        return boosted
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
                pretrained: torch.Tensor | None = None) -> torch.Tensor:
    """The buffer's final maps (N,H,W) from the spatial model's ``predicted`` (N,H,W) and the target's maps
    ``target`` (N,H,W), given where ``has`` (N,); nothing given is modified (``replace`` returns ``predicted``).

    ``keep_target`` (every target map flat, or the fine-tuning collapsed): the target's maps as they are, and for
    the frames without one, in order, the pretrained spatial model's maps ``pretrained`` (k,H,W); otherwise
    :func:`fuse_maps` on every frame with a target map, ``predicted`` on the others."""
    missing = np.flatnonzero(~np.asarray(has, dtype=bool)).tolist()
    if not keep_target:
        if how == "replace":
            return predicted
        fused = fuse_maps(predicted.numpy(), target.numpy(), how)  # a new array (numpy's sqrt: exact rounding)
        fused[missing] = predicted.numpy()[missing]  # no buffer-sized temporary: 3 stacks alive at most, as before
        return torch.from_numpy(fused)
    if missing and (pretrained is None or pretrained.shape[0] != len(missing)):
        raise ValueError(f"fuse_buffer: {len(missing)} frame(s) have no target map; pass their pretrained maps")
    out = target.clone()
    if missing:
        out[missing] = pretrained.to(out.dtype)  # type: ignore[union-attr]
    return out
