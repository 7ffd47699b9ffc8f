"""The last step: the boosted map and the target's map of a frame become one (``BoostConfig.fusion``), and the
checks that decide when the target's maps are kept instead (docs/reliability.md, "Fallbacks").

- ``replace`` — the paper (Sec. V-C): the fine-tuned spatial model's map alone;
- ``mean`` — (boosted + target) / 2 (the ``quality`` preset);
- ``geometric`` — sqrt(boosted · target), both must agree (the ``fast`` preset).
"""

from __future__ import annotations

from typing import Callable, Sequence

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
                pretrained: Callable[[list[int]], torch.Tensor]) -> list[np.ndarray]:
    """The buffer's final maps from the spatial model's ``predicted`` (N,H,W) and the target's maps.

    ``keep_target`` (every target map flat, or the fine-tuning collapsed): the target's maps as they are, and
    ``pretrained(indices)`` — the pretrained spatial model's maps — for frames without one; otherwise
    :func:`fuse_maps` frame by frame."""
    n = len(target_maps)
    if not keep_target:
        return [fuse_maps(predicted[i].numpy(), target_maps[i], how) for i in range(n)]
    missing = [i for i, m in enumerate(target_maps) if m is None]
    if missing:
        pre = pretrained(missing)
        for j, i in enumerate(missing):
            predicted[i] = pre[j]
    return [m if m is not None else predicted[i].numpy() for i, m in enumerate(target_maps)]
