"""Motion quality scores (Eq. 1) and the adaptive high-quality threshold (Eqs. 2–4)."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from ..errors import InputError

__all__ = ["mqs_labels", "motion_quality_scores"]


def _as_scores(scores: Any) -> np.ndarray:
    arr = scores.detach().cpu().double().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores, float)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"mqs_labels expects a non-empty 1-D sequence of scores; got shape {arr.shape}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise InputError(
            f"motion quality scores are S-measures in [0, 1]; got values in [{np.nanmin(arr):.4g}, "
            f"{np.nanmax(arr):.4g}] (non-finite: {int((~np.isfinite(arr)).sum())})"
        )
    return arr


def mqs_labels(scores: Any, *, base: float = 0.5, max_iter: int = 1000) -> tuple[Any, float]:
    """High-quality labels of motion quality scores: ``labels = MQS >= λ`` (Eq. 2).

    λ starts at ``base`` (0.5, the S-measure of an uninformative map) and is iterated as λ ← (base + ω) / 2, ω the
    mean of the scores ≥ λ (Eqs. 3–4), until the set above λ stops changing; the returned λ is then an exact fixed
    point. Degenerate cases: no score ≥ ``base`` → all labels 0 and λ = ``base`` (no flow beats chance); all scores
    equal to c ≥ ``base`` → all labels 1 and λ = (base + c) / 2.

    Returns ``(labels, λ)``: a bool tensor when ``scores`` is a tensor (same device), else a bool ndarray.
    """
    arr = _as_scores(scores)
    lam = float(base)
    upper = arr >= lam
    for _ in range(max_iter):
        if not upper.any():
            break
        new_lam = (base + float(arr[upper].mean())) / 2.0
        new_upper = arr >= new_lam
        lam = new_lam
        if np.array_equal(new_upper, upper):
            break
        upper = new_upper
    else:  # pragma: no cover - the upper set only shrinks, so this cannot happen for max_iter >= len(scores)
        raise RuntimeError("λ iteration did not converge")
    labels: Any = upper
    if isinstance(scores, torch.Tensor):
        labels = torch.from_numpy(upper).to(scores.device)
    assert math.isfinite(lam)
    return labels, lam


def motion_quality_scores(
    flow_images: torch.Tensor,
    gt: torch.Tensor,
    theta: str | Callable[[torch.Tensor], torch.Tensor] = "default",
    *,
    batch_size: int = 32,
) -> torch.Tensor:
    """Eq. 1: MQS_i = S-measure(Θ(colour-coded flow_i), GT_i), for a batch.

    Args:
        flow_images: uint8 (T,3,H,W) colour-coded flows (:func:`vsodboost.flow.flow_to_color`).
        gt: (T,H,W) masks, bool / {0,1} / {0,255}.
        theta: a registered Θ name (:func:`vsodboost.mqpm.theta.list_thetas`) or a callable
            uint8 (B,3,H,W) → float (B,H,W) in [0, 1].
    Returns:
        float32 (T,) scores in [0, 1].
    """
    from ..metrics import s_measure
    from .theta import get_theta

    fn = get_theta(theta)
    if flow_images.ndim != 4 or flow_images.shape[1] != 3 or flow_images.dtype != torch.uint8:
        raise InputError(f"flow_images must be uint8 (T,3,H,W); got {flow_images.dtype} {tuple(flow_images.shape)}")
    if gt.ndim != 3 or gt.shape[0] != flow_images.shape[0] or gt.shape[-2:] != flow_images.shape[-2:]:
        raise InputError(f"gt must be (T,H,W) matching flow_images {tuple(flow_images.shape)}; got {tuple(gt.shape)}")
    ref = gt > (127 if gt.dtype == torch.uint8 and gt.max() > 1 else 0)  # {0,1} and {0,255} masks alike
    out = []
    for i in range(0, flow_images.shape[0], batch_size):
        sal = fn(flow_images[i:i + batch_size]).float().clamp(0, 1)
        out.append(s_measure(sal, ref[i:i + batch_size].to(sal.device)).float().cpu())
    return torch.cat(out)
