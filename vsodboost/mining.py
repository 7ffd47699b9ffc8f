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
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError

__all__ = ["FLAT", "FrameSelector", "Selection", "consistency", "is_flat", "select_frames", "mqpm_selector",
           "consistency_selector", "hq_rank_selector", "SELECTORS", "teachable", "without_motion"]

FLAT = 1.0 / 255.0  # a map whose values all lie within one 8-bit grey level is flat


@dataclass
class Selection:
    """The mined frames of one buffer (indices into the buffer) and how they were chosen."""

    indices: list[int]
    candidates: list[int]
    fallback: bool = False
    warnings: list[str] = field(default_factory=list)
    keep_target: bool = False  # every target map was flat: the buffer keeps the target's maps (no fusion)


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
        return Selection(_one_per_period(candidates, cons, hq_prob, period), candidates)
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


@runtime_checkable
class FrameSelector(Protocol):
    """Which frames of a buffer become training frames, given step 2's scores (the Booster's ``selector=``).

    The default, :func:`mqpm_selector`, is the paper's mining + filtering (:func:`select_frames`). ``seed`` is the
    buffer's seed (the Booster's seed + buffer index), for selectors that draw at random (``vsodboost bench``'s
    "MS−MQPM" control)."""

    def __call__(self, hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, *, period: int,
                 threshold: float, seed: int) -> Selection: ...


def mqpm_selector(hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, *, period: int,
                  threshold: float, seed: int) -> Selection:
    """The paper's selection (Sec. V-A/B): :func:`select_frames`; ``seed`` is not used."""
    return select_frames(hq_prob, consistency, has_target, period=period, threshold=threshold)


def _one_per_period(pool: list[int], score: np.ndarray, tie: np.ndarray, period: int) -> list[int]:
    """The best-scoring frame of every ``period`` consecutive frames of ``pool`` (ties: ``tie``, then the earlier)."""
    return [max(pool[s: s + period], key=lambda i: (score[i], tie[i], -i)) for s in range(0, len(pool), period)]


def _best_of_every_frame(hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, period: int,
                         threshold: float, *, by_consistency: bool) -> Selection:
    """Every frame with a target map a candidate; one per ``period`` of them, by consistency then HQ probability
    (``by_consistency``) or the other way round; no frame with a map: :func:`select_frames`'s fallback and warning."""
    pool = [int(i) for i in np.flatnonzero(np.asarray(has_target, dtype=bool))]
    if not pool:
        return select_frames(hq_prob, consistency, has_target, period=period, threshold=threshold)
    hq = np.asarray(hq_prob, dtype=np.float64).reshape(-1)
    cons = np.asarray(consistency, dtype=np.float64).reshape(-1)
    cons = np.where(np.isfinite(cons), cons, -np.inf)
    score, tie = (cons, hq) if by_consistency else (hq, cons)
    return Selection(_one_per_period(pool, score, tie, period), pool)


def consistency_selector(hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, *, period: int,
                         threshold: float, seed: int) -> Selection:
    """Filtering without mining (an alternative rule, measured in docs/booster.md): every frame with a target map is
    a candidate, whatever the MQPM's HQ probability; one per ``period`` consecutive candidates, the most consistent
    (Sec. V-B's S-measure between motion saliency and the target). ``threshold`` and ``seed`` are not used."""
    return _best_of_every_frame(hq_prob, consistency, has_target, period, threshold, by_consistency=True)


def hq_rank_selector(hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, *, period: int,
                     threshold: float, seed: int) -> Selection:
    """Mining without filtering (an alternative rule, measured in docs/booster.md): every frame with a target map is
    a candidate; one per ``period`` consecutive candidates, the one the MQPM rates most likely high quality (Eq. 5's
    probability). ``threshold`` and ``seed`` are not used."""
    return _best_of_every_frame(hq_prob, consistency, has_target, period, threshold, by_consistency=False)


#: Frame selectors by name (``Booster(selector=SELECTORS[name])``): the paper's and the alternatives measured against
#: it and against random frames (docs/booster.md, "Does mining matter?")
SELECTORS: dict[str, FrameSelector] = {"mqpm": mqpm_selector, "consistency": consistency_selector,
                                       "hq": hq_rank_selector}


def is_flat(m: np.ndarray) -> bool:
    """A flat map (all ≈ 0, all ≈ 1, any constant) would teach "nothing is salient"."""
    return float(m.max()) - float(m.min()) <= FLAT


def teachable(maps: torch.Tensor, has: np.ndarray, names: Sequence[str], where: str) -> tuple[np.ndarray, list[str]]:
    """Which of the target's maps (T,H,W), given where ``has``, may be mined: flat ones may not (documented
    fallback, with a warning). Returns that mask (T,) and the warnings."""
    has = np.asarray(has, dtype=bool)
    idx = [i for i in np.flatnonzero(has) if is_flat(maps[i].numpy())]
    if not idx:
        return has.copy(), []
    teach = has.copy()
    teach[idx] = False
    shown, level = [names[i] for i in idx], float(maps[idx[0]].numpy().mean())
    return teach, [f"{where}: the target's map is flat (constant ≈ {level:.3f}) on {len(idx)} frame(s), e.g. "
                   f"{shown[:3]}: not used for fine-tuning"]


def without_motion(has: np.ndarray, teach: np.ndarray, where: str) -> Selection | None:
    """The selection of a buffer where mining cannot run (docs/reliability.md, "Fallbacks"), else None; ``has``:
    which frames have a target map, ``teach``: which of those may be mined (:func:`teachable`).

    Every target map flat → keep the target's maps (``fallback`` and the caller keeps them); no target map → the
    pretrained spatial model's maps; one frame (no motion) → fine-tune on its target map when it has one."""
    if has.any() and not teach.any():
        return Selection([], [], fallback=True, keep_target=True, warnings=[
            "every target map of this buffer is flat: kept the target's maps for this buffer (frames without "
            "one get the pretrained spatial model's map)"])
    if not has.any():
        return Selection([], [], fallback=True, warnings=[
            "the target has no map for any frame of this buffer: maps come from the pretrained spatial model"])
    if len(has) < 2:
        return Selection([0] if teach[0] else [], [], fallback=True,
                         warnings=[f"{where} has 1 frame: no motion to mine; maps come from the "
                                   "pretrained spatial model fine-tuned on its target map when there is one"])
    return None


def consistency(motion_saliency: torch.Tensor, target_maps: torch.Tensor, has: np.ndarray, size: int) -> np.ndarray:
    """Sec. V-B: S-measure between the MQPM's motion saliency map (T,h,w) and the target's map (T,H,W) of each frame
    where ``has``, both resized to ``size``×``size``; NaN where the target has no map."""
    from .metrics import s_measure

    def square(m: torch.Tensor) -> torch.Tensor:
        return F.interpolate(m.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False)[:, 0]

    cons = np.full(len(has), np.nan)
    idx = np.flatnonzero(has).tolist()
    if idx:
        cons[idx] = s_measure(square(motion_saliency[idx].detach().float().cpu()), square(target_maps[idx])) \
            .double().numpy()
    return cons
