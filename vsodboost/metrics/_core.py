"""Per-frame statistics and the metric formulas, in torch, batched over frames.

Two ways in, one way out:

* ``uint8`` predictions take the *level* path: a map holds at most 256 distinct values, so one ``bincount`` over
  (quadrant, gt, value) gives a ``(B, 4, 2, 256)`` histogram from which every metric follows exactly (sums over
  256 levels instead of over all pixels). This is the fast path of the evaluator.
* float predictions take the *pixel* path: the same statistics computed by batched reductions over pixels.

Both fill a :class:`FrameStats`; :func:`finalize` turns it into per-frame metrics. The conventions are those of
pysodmetrics 1.6.2 (see ``docs/metrics.md``); comments mark the places where we deliberately reproduce its arithmetic.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError

#: MATLAB's ``eps`` (numpy ``spacing(1)``), the epsilon pysodmetrics uses everywhere.
EPS = float(np.spacing(1))
F64 = torch.float64
_LITTLE = sys.byteorder == "little"


@dataclass
class FrameStats:
    """Sufficient statistics of a batch of B (prediction, GT) pairs; float64 tensors unless noted.

    Quadrants are ordered top-left, top-right, bottom-left, bottom-right around the GT centroid (Eq. of the
    S-measure's region term); ``q_*`` tensors are (B, 4).
    """

    height: int
    width: int
    n_fg: Tensor  # (B,) number of GT foreground pixels
    mae: Tensor  # (B,)
    pred_mean: Tensor  # (B,)
    # object term: mean / sum of squared deviations of pred on fg and of (1 - pred) on bg
    fg_mean: Tensor
    fg_ssd: Tensor
    bg_mean: Tensor
    bg_ssd: Tensor
    # region term
    cy: Tensor  # (B,) int64, MATLAB-style 1-based rounded centroid row (= number of rows in the top quadrants)
    cx: Tensor  # (B,) int64
    q_n: Tensor
    q_mx: Tensor
    q_my: Tensor
    q_sxx: Tensor
    q_syy: Tensor
    q_sxy: Tensor
    q_xconst: Tensor  # bool: the prediction is constant over the quadrant
    # curves: counts of fg / bg pixels with trunc(255 * pred) >= t for t = 255, 254, ..., 0
    tp_curve: Tensor  # (B, 256)
    fp_curve: Tensor  # (B, 256)
    # adaptive threshold min(2 * mean(pred), 1)
    adp_tp: Tensor
    adp_fp: Tensor


# --------------------------------------------------------------------------------------------------- inputs


def as_batch(x: object, name: str) -> Tensor:
    """Turn an array / tensor of shape (H, W), (B, H, W) or (B, 1, H, W) into a (B, H, W) tensor."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise InputError(f"{name}: expected a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.ndim == 4 and x.shape[1] == 1:  # (B, 1, H, W), the layout of network outputs
        x = x[:, 0]
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.ndim != 3:
        raise InputError(
            f"{name}: expected a grayscale map (H, W) or a batch (B, H, W), got shape {tuple(x.shape)}; "
            "convert colour maps to grayscale first"
        )
    if 0 in x.shape:
        raise InputError(f"{name}: empty map of shape {tuple(x.shape)}")
    return x


def binarize_gt(gt: Tensor) -> Tensor:
    """GT as bool: ``uint8`` > 128 (pysodmetrics), float > 0.5, bool as is."""
    if gt.dtype == torch.bool:
        return gt
    if gt.dtype == torch.uint8:
        return gt > 128
    if gt.is_floating_point():
        return gt > 0.5
    raise InputError(f"gt: expected a uint8, bool or float tensor, got {gt.dtype}")


def check_pair(pred: Tensor, gt: Tensor) -> None:
    if pred.shape != gt.shape:
        raise InputError(
            f"prediction and ground truth differ in shape: pred {tuple(pred.shape)} vs gt {tuple(gt.shape)}; "
            "resize the prediction to the GT size first (vsodboost.metrics.resize_to bilinear, as the toolkits do)"
        )
    if pred.device != gt.device:
        raise InputError(f"prediction on {pred.device} but ground truth on {gt.device}; put both on one device")


def float_pred(pred: Tensor, normalize: bool) -> Tensor:
    """A float prediction in [0, 1] as float64, min-max normalised per image when ``normalize``."""
    if not pred.is_floating_point():
        raise InputError(f"pred: expected uint8 or float, got {pred.dtype}")
    x = pred.to(F64)
    lo = x.amin(dim=(1, 2))
    hi = x.amax(dim=(1, 2))
    if bool(torch.isnan(lo).any() | torch.isnan(hi).any()):
        raise InputError("pred: the prediction contains NaN")
    if not normalize and bool((lo < 0).any() | (hi > 1).any()):
        raise InputError(
            f"pred: float predictions must lie in [0, 1] (got min {lo.min().item():.4g}, max {hi.max().item():.4g}); "
            "pass normalize=True to min-max normalise each map, or rescale it"
        )
    if normalize:
        span = (hi - lo).view(-1, 1, 1)
        keep = span == 0  # pysodmetrics leaves a constant map untouched
        x = torch.where(keep, x, (x - lo.view(-1, 1, 1)) / torch.where(keep, torch.ones_like(span), span))
    return x


# ----------------------------------------------------------------------------------------- shared pieces


def _centroid(gf: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Foreground count and MATLAB-compatible centroid (rounded mean coordinate + 1) of a 0/1 float32 GT.

    float32 row / column sums (BLAS) are exact for counts < 2**24 and much faster than integer reductions on CPU.
    """
    b, h, w = gf.shape
    dev = gf.device
    rows = (gf.view(b * h, w) @ torch.ones(w, device=dev)).view(b, h).long()  # (B, H)
    cols = (torch.ones(b, 1, h, device=dev) @ gf).view(b, w).long()  # (B, W)
    n = rows.sum(1)
    sr = (rows * torch.arange(h, device=dev)).sum(1)
    sc = (cols * torch.arange(w, device=dev)).sum(1)
    nn = n.clamp(min=1).to(F64)
    # pysodmetrics: argwhere(gt).mean(0).round() (round half to even, as torch.round) + 1; exact integer sums.
    # With no foreground the region term is never used; any valid split will do.
    cy = torch.where(n > 0, torch.round(sr.to(F64) / nn), torch.full_like(nn, round(h / 2))).long() + 1
    cx = torch.where(n > 0, torch.round(sc.to(F64) / nn), torch.full_like(nn, round(w / 2))).long() + 1
    return n, cy.clamp(max=h), cx.clamp(max=w)


def _quadrant_masks(cy: Tensor, cx: Tensor, h: int, w: int) -> tuple[Tensor, Tensor]:
    """Row masks (B, H, 2) [top, bottom] and column masks (B, W, 2) [left, right] as bool."""
    r = torch.arange(h, device=cy.device).view(1, h)
    c = torch.arange(w, device=cx.device).view(1, w)
    top = r < cy.view(-1, 1)
    left = c < cx.view(-1, 1)
    return torch.stack([top, ~top], -1), torch.stack([left, ~left], -1)


#: Two summation orders of the same float64 values differ by far less than this (relative); a pixel value closer
#: than this to the adaptive threshold makes ``pred >= 2 * mean`` depend on the order.
_TIE_RTOL = 1e-9


def _adaptive_threshold(mean: Tensor, values: Tensor, numpy_mean) -> Tensor:
    """``min(2 * mean(pred), 1)`` per frame, as pysodmetrics computes it.

    ``values`` (B, K) are the frame's pixel values (or levels; NaN where absent). Where one of them is within
    rounding distance of the threshold, the comparison hinges on the last bit of the mean, so we recompute that
    frame's mean with numpy's own (pairwise) summation: ``numpy_mean(i)``. Elsewhere the torch mean is used.
    """
    thr = torch.clamp(2 * mean, max=1)
    near = ((values - thr.view(-1, 1)).abs() <= _TIE_RTOL * thr.view(-1, 1).abs().clamp(min=1e-300)).any(1)
    if bool(near.any()):
        thr = thr.clone()
        for i in near.nonzero().flatten().tolist():
            thr[i] = min(2 * numpy_mean(i), 1.0)
    return thr


def _cum_from_top(hist: Tensor) -> Tensor:
    """Counts of pixels with bin >= t for t = 255 .. 0 (pysodmetrics' flip + cumsum)."""
    return torch.flip(hist, dims=[-1]).cumsum(-1)


# ------------------------------------------------------------------------------------------ level path


#: Counting lanes: consecutive pixels (long runs of equal values in saliency maps) go to different sub-histograms,
#: which breaks the store-to-load dependency of incrementing one counter over and over (~4x faster bincount).
_LANES = 4


def stats_uint8(pred: Tensor, gt: Tensor, normalize: bool = True) -> FrameStats:
    """Statistics of uint8 predictions (B, H, W) against GT (B, H, W), raw uint8 (> 128) or bool.

    Each pixel becomes the int16 key ``value + 256 * (gt + 2 * lane + 8 * right)`` (two strided byte writes, no
    other per-pixel arithmetic: this is the evaluator's hot loop); ``right`` is the column side of the GT centroid,
    and the row side costs nothing because the top and bottom quadrants are contiguous row blocks, counted by
    separate ``bincount`` calls.
    """
    b, h, w = pred.shape
    dev = pred.device
    g = gt > 128 if gt.dtype == torch.uint8 else gt
    g8 = g.view(torch.uint8)
    n_fg, cy, cx = _centroid(torch.empty((b, h, w), dtype=torch.float32, device=dev).copy_(g8))

    key = torch.empty((b, h, w), dtype=torch.int16, device=dev)
    kb = key.view(torch.uint8).view(b, h, w, 2)
    lo, hi = (0, 1) if _LITTLE else (1, 0)
    col = torch.arange(w, device=dev)
    pattern = ((col % _LANES) * 2).view(1, 1, w) + 2 * _LANES * (col.view(1, 1, w) >= cx.view(-1, 1, 1))
    kb[..., lo] = pred
    torch.add(g8, pattern.to(torch.uint8), out=kb[..., hi])
    nbins = 256 * 2 * _LANES * 2
    hist = torch.zeros((b, 2, nbins), dtype=torch.int64, device=dev)
    for i, r in enumerate(cy.tolist()):
        if r > 0:
            hist[i, 0] = torch.bincount(key[i, :r].reshape(-1), minlength=nbins)
        if r < h:
            hist[i, 1] = torch.bincount(key[i, r:].reshape(-1), minlength=nbins)
    # (B, top/bottom, left/right, lane, gt, value) -> (B, quadrant, gt, value)
    hq = hist.view(b, 2, 2, _LANES, 2, 256).sum(3).view(b, 4, 2, 256).to(F64)
    return stats_from_hist(hq, cy, cx, n_fg, h, w, normalize, pred)


def _levels(cnt: Tensor, normalize: bool) -> Tensor:
    """The float value of each uint8 level after pysodmetrics' ``pred / 255`` and per-image min-max."""
    b = cnt.shape[0]
    u = torch.arange(256, device=cnt.device, dtype=F64).expand(b, 256)
    lv = u / 255
    if not normalize:
        return lv
    present = cnt > 0
    idx = torch.arange(256, device=cnt.device).expand(b, 256)
    umin = torch.where(present, idx, 256).amin(1, keepdim=True)
    umax = torch.where(present, idx, -1).amax(1, keepdim=True)
    mn, mx = umin.to(F64) / 255, umax.to(F64) / 255
    span = mx - mn
    return torch.where(span == 0, lv, (lv - mn) / torch.where(span == 0, torch.ones_like(span), span))


def stats_from_hist(hq: Tensor, cy: Tensor, cx: Tensor, n_fg: Tensor, h: int, w: int, normalize: bool,
                    pred: Tensor) -> FrameStats:
    b = hq.shape[0]
    n = float(h * w)
    hg = hq.sum(1)  # (B, 2, 256): bg, fg
    h0, h1 = hg[:, 0], hg[:, 1]
    cnt = h0 + h1
    lv = _levels(cnt, normalize)  # (B, 256)
    one_m = 1 - lv
    mae = ((h0 * lv).sum(1) + (h1 * one_m).sum(1)) / n
    pred_mean = (cnt * lv).sum(1) / n

    # adaptive threshold on the exact per-level values
    def numpy_mean(i: int) -> float:  # the reference's float64 map of frame i, summed by numpy
        return float(lv[i].cpu().numpy()[pred[i].cpu().numpy()].mean())

    thr = _adaptive_threshold(pred_mean, torch.where(cnt > 0, lv, torch.nan), numpy_mean).view(-1, 1)
    above = lv >= thr
    adp_tp = (h1 * above).sum(1)
    adp_fp = (h0 * above).sum(1)

    # curves: pysodmetrics bins trunc(pred * 255) (a float -> uint8 cast); map each level to its bin
    bins = (lv * 255).to(torch.uint8).long()
    fg_hist = torch.zeros_like(h1).scatter_add_(1, bins, h1)
    bg_hist = torch.zeros_like(h0).scatter_add_(1, bins, h0)

    # object term, two-pass over levels
    nfg = n_fg.to(F64)
    nbg = n - nfg
    fg_mean = (h1 * lv).sum(1) / nfg.clamp(min=1)
    fg_ssd = (h1 * (lv - fg_mean.view(-1, 1)) ** 2).sum(1)
    bg_mean = (h0 * one_m).sum(1) / nbg.clamp(min=1)
    bg_ssd = (h0 * (one_m - bg_mean.view(-1, 1)) ** 2).sum(1)

    # region term, two-pass over levels per quadrant
    lvq = lv.view(b, 1, 1, 256)
    gq = torch.tensor([0.0, 1.0], dtype=F64, device=hq.device).view(1, 1, 2, 1)
    q_n = hq.sum((2, 3))
    qn1 = q_n.clamp(min=1)
    q_mx = (hq * lvq).sum((2, 3)) / qn1
    q_my = hq[:, :, 1].sum(-1) / qn1
    dx = lvq - q_mx.view(b, 4, 1, 1)
    dy = gq - q_my.view(b, 4, 1, 1)
    q_sxx = (hq * dx * dx).sum((2, 3))
    q_syy = (hq * dy * dy).sum((2, 3))
    q_sxy = (hq * dx * dy).sum((2, 3))
    q_xconst = ((hq.sum(2) > 0).sum(-1) == 1)
    # a constant quadrant: the mean is the level itself and the deviations are exactly 0
    first = (hq.sum(2) > 0).to(torch.uint8).argmax(-1)  # (B, 4): the one level present
    const_val = lv.gather(1, first)
    q_mx = torch.where(q_xconst, const_val, q_mx)
    q_sxx = torch.where(q_xconst, torch.zeros_like(q_sxx), q_sxx)
    q_sxy = torch.where(q_xconst, torch.zeros_like(q_sxy), q_sxy)
    return FrameStats(h, w, n_fg, mae, pred_mean, fg_mean, fg_ssd, bg_mean, bg_ssd, cy, cx, q_n, q_mx, q_my,
                      q_sxx, q_syy, q_sxy, q_xconst, _cum_from_top(fg_hist), _cum_from_top(bg_hist), adp_tp, adp_fp)


# ------------------------------------------------------------------------------------------ pixel path


def stats_float(x: Tensor, gt: Tensor) -> FrameStats:
    """Statistics of float64 predictions in [0, 1] (B, H, W) against bool GT, by reductions over pixels."""
    b, h, w = x.shape
    dev = x.device
    n = float(h * w)
    n_fg, cy, cx = _centroid(gt.to(torch.float32))
    gf = gt.to(F64)
    mae = (x - gf).abs().mean((1, 2))
    pred_mean = x.mean((1, 2))
    thr = _adaptive_threshold(pred_mean, x.view(b, -1), lambda i: float(x[i].cpu().numpy().mean()))
    above = x >= thr.view(-1, 1, 1)
    adp_tp = (above & gt).sum((1, 2)).to(F64)
    adp_fp = (above & ~gt).sum((1, 2)).to(F64)

    bins = (x * 255).to(torch.uint8).long()
    key = bins + 256 * gt.long() + 512 * torch.arange(b, device=dev).view(-1, 1, 1)
    hist = torch.bincount(key.reshape(-1), minlength=512 * b).view(b, 2, 256).to(F64)

    nfg = n_fg.to(F64)
    nbg = n - nfg
    fg_mean = (x * gf).sum((1, 2)) / nfg.clamp(min=1)
    fg_ssd = (((x - fg_mean.view(-1, 1, 1)) ** 2) * gf).sum((1, 2))
    y = 1 - x
    bg_mean = (y * (1 - gf)).sum((1, 2)) / nbg.clamp(min=1)
    bg_ssd = (((y - bg_mean.view(-1, 1, 1)) ** 2) * (1 - gf)).sum((1, 2))

    # region: quadrant sums as R^T A C with row / column indicator matrices; deviations from an anchor pixel
    # (the quadrant's first pixel) keep sums of squares exact when a quadrant is constant.
    rm, cm = _quadrant_masks(cy, cx, h, w)
    rm, cm = rm.to(F64), cm.to(F64)

    def qsum(a: Tensor) -> Tensor:  # (B, H, W) -> (B, 4)
        return (rm.transpose(1, 2) @ (a @ cm)).reshape(b, 4)

    def qbroadcast(v: Tensor) -> Tensor:  # (B, 4) -> (B, H, W)
        return rm @ v.view(b, 2, 2) @ cm.transpose(1, 2)

    r0 = torch.stack([torch.zeros_like(cy), torch.zeros_like(cy), cy, cy], 1).clamp(max=h - 1)
    c0 = torch.stack([torch.zeros_like(cx), cx, torch.zeros_like(cx), cx], 1).clamp(max=w - 1)
    bidx = torch.arange(b, device=dev).view(-1, 1)
    ax = x[bidx, r0, c0]
    ay = gf[bidx, r0, c0]
    dx = x - qbroadcast(ax)
    dy = gf - qbroadcast(ay)
    q_n = qsum(torch.ones_like(x))
    qn1 = q_n.clamp(min=1)
    sdx, sdy = qsum(dx), qsum(dy)
    q_sxx = (qsum(dx * dx) - sdx * sdx / qn1).clamp(min=0)
    q_syy = (qsum(dy * dy) - sdy * sdy / qn1).clamp(min=0)
    q_sxy = qsum(dx * dy) - sdx * sdy / qn1
    q_mx = ax + sdx / qn1
    q_my = qsum(gf) / qn1
    q_xconst = qsum(dx * dx) == 0
    q_sxx = torch.where(q_xconst, torch.zeros_like(q_sxx), q_sxx)
    q_sxy = torch.where(q_xconst | (q_syy == 0), torch.zeros_like(q_sxy), q_sxy)
    return FrameStats(h, w, n_fg, mae, pred_mean, fg_mean, fg_ssd, bg_mean, bg_ssd, cy, cx, q_n, q_mx, q_my,
                      q_sxx, q_syy, q_sxy, q_xconst, _cum_from_top(hist[:, 1]), _cum_from_top(hist[:, 0]),
                      adp_tp, adp_fp)


# ------------------------------------------------------------------------------------------- formulas


@functools.lru_cache(maxsize=4096)
def _numpy_mean_is_exact(h: int, w: int, r0: int, r1: int, c0: int, c1: int, value: float) -> bool:
    """Whether numpy's mean over ``full((h, w), value)[r0:r1, c0:c1]`` returns ``value`` exactly.

    pysodmetrics' SSIM of a quadrant where both the prediction and the GT are constant is 0/0; its result (1 or 0)
    then hinges on whether numpy's pairwise-summed mean rounds back to the constant. We reproduce that decision by
    asking numpy the same question on an array of the same layout.
    """
    return bool(np.full((h, w), value, dtype=np.float64)[r0:r1, c0:c1].mean() == value)


def s_object(mean: Tensor, ssd: Tensor, count: Tensor) -> Tensor:
    """Object score of one region, ``2 x̄ / (x̄² + 1 + σ + eps)`` with σ the ddof=1 standard deviation."""
    std = torch.where(count > 1, torch.sqrt(ssd / (count - 1).clamp(min=1)), torch.zeros_like(ssd))
    return 2 * mean / (mean * mean + 1 + std + EPS)


def region_ssim(st: FrameStats) -> Tensor:
    """Per-quadrant SSIM (B, 4) of the S-measure's region term, with pysodmetrics' N-1+eps variances."""
    denom = st.q_n - 1 + EPS
    sx, sy, sxy = st.q_sxx / denom, st.q_syy / denom, st.q_sxy / denom
    x, y = st.q_mx, st.q_my
    alpha = 4 * x * y * sxy
    beta = (x * x + y * y) * (sx + sy)
    score = torch.where(alpha != 0, alpha / (beta + EPS), (beta == 0).to(F64))
    # both maps constant over the quadrant: follow pysodmetrics' rounding (see _numpy_mean_is_exact)
    degenerate = st.q_xconst & (st.q_syy == 0) & (st.q_n > 0) & (x != 0) & (x != 1)
    if bool(degenerate.any()):
        h, w = st.height, st.width
        for bi, qi in degenerate.nonzero().tolist():
            cy, cx = int(st.cy[bi]), int(st.cx[bi])
            r0, r1 = (0, cy) if qi < 2 else (cy, h)
            c0, c1 = (0, cx) if qi % 2 == 0 else (cx, w)
            exact = _numpy_mean_is_exact(h, w, r0, r1, c0, c1, float(x[bi, qi]))
            score[bi, qi] = 1.0 if exact else 0.0
    # pysodmetrics returns NaN when the centroid falls on the last row / column (an empty quadrant of weight 0);
    # we let an empty quadrant contribute 0, the limit of its weighted score.
    return torch.where(st.q_n > 0, score, torch.zeros_like(score))


def s_measure_from_stats(st: FrameStats, alpha: float = 0.5) -> Tensor:
    """S-measure (Fan et al., ICCV 2017) per frame: α·object + (1-α)·region, clipped at 0."""
    h, w = st.height, st.width
    area = h * w
    nfg = st.n_fg.to(F64)
    y = nfg / area
    obj = s_object(st.fg_mean, st.fg_ssd, nfg) * y + s_object(st.bg_mean, st.bg_ssd, area - nfg) * (1 - y)
    cy, cx = st.cy.to(F64), st.cx.to(F64)
    w_lt = cx * cy / area
    w_rt = cy * (w - cx) / area
    w_lb = (h - cy) * cx / area
    w_rb = 1 - w_lt - w_rt - w_lb
    s = region_ssim(st)
    reg = s[:, 0] * w_lt + s[:, 1] * w_rt + s[:, 2] * w_lb + s[:, 3] * w_rb
    sm = torch.clamp(obj * alpha + reg * (1 - alpha), min=0)
    sm = torch.where(st.n_fg == 0, 1 - st.pred_mean, sm)
    return torch.where(st.n_fg == area, st.pred_mean, sm)


def f_curves(st: FrameStats, beta2: float = 0.3) -> tuple[Tensor, Tensor, Tensor]:
    """Precision, recall and F-measure (B, 256) at thresholds 255 .. 0 (Achanta et al. 2009, β² = 0.3)."""
    tps = st.tp_curve
    ps = tps + st.fp_curve
    ps = torch.where(ps == 0, torch.ones_like(ps), ps)
    t = st.n_fg.to(F64).clamp(min=1).view(-1, 1)
    precision = tps / ps
    recall = tps / t
    num = (1 + beta2) * precision * recall
    den = torch.where(num == 0, torch.ones_like(num), beta2 * precision + recall)
    return precision, recall, num / den


def adaptive_f(st: FrameStats, beta2: float = 0.3) -> Tensor:
    inter = st.adp_tp
    pre = inter / (st.adp_tp + st.adp_fp).clamp(min=1)
    rec = inter / st.n_fg.to(F64).clamp(min=1)
    den = beta2 * pre + rec
    fm = (1 + beta2) * pre * rec / torch.where(inter == 0, torch.ones_like(den), den)
    return torch.where(inter == 0, torch.zeros_like(fm), fm)


def _enhanced_sum(fg_fg: Tensor, fg_bg: Tensor, n_fg: Tensor, n: float) -> Tensor:
    """Sum of the enhanced alignment matrix (Fan et al., IJCAI 2018) from confusion counts, as pysodmetrics."""
    fg_all = fg_fg + fg_bg
    bg_all = n - fg_all
    bg_fg = n_fg - fg_fg
    bg_bg = bg_all - bg_fg
    mean_pred = fg_all / n
    mean_gt = n_fg / n
    dp_fg, dp_bg = 1 - mean_pred, 0 - mean_pred
    dg_fg, dg_bg = 1 - mean_gt, 0 - mean_gt
    total = torch.zeros_like(fg_all)
    for part, a, b in ((fg_fg, dp_fg, dg_fg), (fg_bg, dp_fg, dg_bg), (bg_fg, dp_bg, dg_fg), (bg_bg, dp_bg, dg_bg)):
        align = 2 * (a * b) / (a * a + b * b + EPS)
        total = total + (align + 1) ** 2 / 4 * part
    total = torch.where(n_fg == 0, bg_all, total)
    return torch.where(n_fg == n, fg_all, total)


def e_curve(st: FrameStats) -> Tensor:
    """E-measure (B, 256) at thresholds 255 .. 0."""
    n = float(st.height * st.width)
    nfg = st.n_fg.to(F64).view(-1, 1)
    return _enhanced_sum(st.tp_curve, st.fp_curve, nfg, n) / (n - 1 + EPS)


def adaptive_e(st: FrameStats) -> Tensor:
    n = float(st.height * st.width)
    return _enhanced_sum(st.adp_tp, st.adp_fp, st.n_fg.to(F64), n) / (n - 1 + EPS)
