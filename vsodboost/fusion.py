"""The last step: the boosted map and the target's map of a frame become one (``BoostConfig.fusion``), and the
checks that decide when the target's maps are kept instead (docs/reliability.md, "Fallbacks").

- ``replace`` — the paper (Sec. V-C): the fine-tuned spatial model's map alone;
- ``mean`` — (boosted + target) / 2 (the ``quality`` preset);
- ``geometric`` — sqrt(boosted · target), both must agree (the ``fast`` preset).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .mining import FLAT

__all__ = ["fuse_maps", "fuse_buffer", "collapse"]


def fuse_maps(boosted: np.ndarray, target: np.ndarray | None, how: str) -> np.ndarray:
    """Combine the boosted and the target's map of one frame (frames without a target map keep the boosted map)."""
    if target is None or how == "replace":
        return boosted
    if how == "mean":
        return 0.5 * (boosted + target)
    return np.sqrt(np.clip(boosted * target, 0.0, 1.0))  # geometric: both must agree


def collapse(maps: torch.Tensor) -> str:
    """How predicted maps (N,H,W) collapsed ('' when they did not): non-finite values, or every map constant."""
    if not bool(torch.isfinite(maps).all()):
        return "the predicted maps hold NaN or infinite values"
    if bool(((maps.amax(dim=(1, 2)) - maps.amin(dim=(1, 2))) <= FLAT).all()):
        return f"every predicted map is constant ≈ {float(maps.mean()):.3f}"
    return ""


def fuse_buffer(predicted: torch.Tensor, target_maps: Sequence[np.ndarray | None], how: str, *, keep_target: bool,
                pretrained: torch.Tensor | None = None) -> list[np.ndarray]:
    """The buffer's final maps from the spatial model's ``predicted`` (N,H,W) and the target's maps; nothing given
    is modified.

    ``keep_target`` (every target map flat, or the fine-tuning collapsed): the target's maps as they are, and for
    the frames without one, in order, the pretrained spatial model's maps ``pretrained`` (k,H,W); otherwise
    :func:`fuse_maps` frame by frame."""
    if not keep_target:
        return [fuse_maps(predicted[i].numpy(), m, how) for i, m in enumerate(target_maps)]
    missing = [i for i, m in enumerate(target_maps) if m is None]
    if missing and (pretrained is None or pretrained.shape[0] != len(missing)):
        raise ValueError(f"fuse_buffer: {len(missing)} frame(s) have no target map; pass their pretrained maps")
    fill = {i: pretrained[j].numpy() for j, i in enumerate(missing)} if missing else {}  # type: ignore[index]
    return [m if m is not None else fill[i] for i, m in enumerate(target_maps)]
