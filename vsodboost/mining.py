"""Steps 2–3 of the method between the MQPM and the fine-tuning: which frames become training frames.

- **Mining (Sec. V-A)**: a frame is a candidate when the MQPM marks its motion high quality
  (``hq_prob ≥ threshold``; labels of Eq. 2 at training time) *and* the target produced a map for it.
- **Filtering (Sec. V-B)**: consistency = S-measure(motion saliency map, target map); among the candidates taken in
  temporal order, keep one frame per ``T`` consecutive candidates (T = 1/5 in the paper: ``period=5``), the one with
  the highest consistency.
- **Fallback** (ours; the paper does not say): when no frame qualifies, take the frames with the highest
  ``hq_prob × consistency`` among frames that have a target map — one per ``period`` such frames, at least one —
  and record a warning. Never crash on a buffer without HQ frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

__all__ = ["Selection", "select_frames"]


@dataclass
class Selection:
    """The mined frames of one buffer (indices into the buffer) and how they were chosen."""

    indices: list[int]
    candidates: list[int]
    fallback: bool = False
    warnings: list[str] = field(default_factory=list)


def select_frames(
    hq_prob: np.ndarray,
    consistency: np.ndarray,
    has_target: np.ndarray,
    *,
    period: int = 5,
    threshold: float = 0.5,
) -> Selection:
    """Mine HQ frames with a target map, then keep the most consistent of every ``period`` consecutive ones.

    Args:
        hq_prob: (N,) MQPM high-quality probability per frame.
        consistency: (N,) S-measure between motion saliency and target map (ignored where ``has_target`` is False).
        has_target: (N,) bool, the target produced a map for the frame.
        period: keep one frame per ``period`` consecutive candidates (the paper's T = 1/period).
        threshold: HQ decision threshold on ``hq_prob``.
    """
    hq_prob = np.asarray(hq_prob, dtype=np.float64).reshape(-1)
    consistency = np.asarray(consistency, dtype=np.float64).reshape(-1)
    has_target = np.asarray(has_target, dtype=bool).reshape(-1)
    n = hq_prob.shape[0]
    if consistency.shape[0] != n or has_target.shape[0] != n:
        raise InputError(f"select_frames: lengths differ (hq_prob {n}, consistency {consistency.shape[0]}, "
                         f"has_target {has_target.shape[0]})")
    if period < 1:
        raise InputError(f"period (1/T) must be ≥ 1, got {period}")
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"HQ threshold must be in [0, 1], got {threshold}")
    if not has_target.any():
        return Selection([], [], fallback=True, warnings=["the target has no map for any frame of this buffer"])
    cons = np.where(np.isfinite(consistency), consistency, -np.inf)
    candidates = [i for i in range(n) if has_target[i] and hq_prob[i] >= threshold]
    if candidates:
        picked = []
        for s in range(0, len(candidates), period):
            group = candidates[s: s + period]
            picked.append(max(group, key=lambda i: (cons[i], hq_prob[i], -i)))
        return Selection(picked, candidates)
    # fallback: rank frames with a target map by hq_prob × consistency, keep 1 per `period` of them
    pool = np.flatnonzero(has_target)
    score = hq_prob[pool] * np.clip(cons[pool], 0.0, None)
    k = max(1, len(pool) // period)
    order = pool[np.lexsort((pool, -hq_prob[pool], -score))][:k]
    return Selection(
        sorted(int(i) for i in order), [], fallback=True,
        warnings=[f"no frame reached HQ probability {threshold}: fell back to the {k} frame(s) with the highest "
                  "HQ probability × consistency"],
    )
