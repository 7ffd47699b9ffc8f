"""Weighted F-measure (Margolin, Zelnik-Manor, Tal, "How to Evaluate Foreground Maps?", CVPR 2014).

Follows pysodmetrics 1.6.2 (itself a port of the authors' MATLAB code): pixel dependency through the error at the
nearest foreground pixel blurred by a 7×7 Gaussian (σ = 5), pixel importance ``2 - exp(log(0.5) / 5 · d)`` for
background pixels at distance ``d`` from the foreground, β² = 1.

Two pieces need care to match the reference to 1e-6:

* Distances: exact Euclidean distance transform. We use OpenCV's exact (Felzenszwalb) transform on CPU and recover
  the integer squared distance before taking the square root in float64, so ``d`` is bit-identical to SciPy's.
* Nearest foreground pixel of a background pixel (``bwdist``'s index output): only background pixels within 3 px
  (Chebyshev) of the foreground influence the blurred error on the foreground, and their nearest foreground pixels
  lie within ±4 px. We search that window in SciPy's tie order (smallest squared distance, then smallest column,
  then smallest row), which reproduces ``scipy.ndimage.distance_transform_edt(return_indices=True)``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._core import EPS, F64

__all__ = ["weighted_f_from_float", "matlab_gaussian"]

_R = 4  # search radius for the nearest foreground pixel of a background pixel in the 3-px band


def matlab_gaussian(size: int = 7, sigma: float = 5.0) -> Tensor:
    """MATLAB ``fspecial('gaussian', size, sigma)`` as float64."""
    m = (size - 1) / 2
    ax = torch.arange(-m, m + 1, dtype=F64)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    k = torch.exp(-(xx * xx + yy * yy) / (2 * sigma * sigma))
    k[k < torch.finfo(F64).eps * k.max()] = 0
    return k / k.sum() if k.sum() != 0 else k


def _offsets() -> Tensor:
    """Window offsets (dr, dc) in SciPy's tie order: squared distance, then column, then row."""
    offs = [(dr, dc) for dr in range(-_R, _R + 1) for dc in range(-_R, _R + 1)]
    offs.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, o[1], o[0]))
    return torch.tensor(offs, dtype=torch.long)


_OFFSETS = _offsets()


def _dilate(mask: Tensor, r: int) -> Tensor:
    """Binary dilation by a (2r+1)² square, as separable shifted ORs (max_pool2d is slow on CPU)."""
    h, w = mask.shape[-2:]
    m = F.pad(mask, (r, r, 0, 0))
    rows = m[..., 0:w].clone()
    for d in range(1, 2 * r + 1):
        rows |= m[..., d:d + w]
    m = F.pad(rows, (0, 0, r, r))
    out = m[..., 0:h, :].clone()
    for d in range(1, 2 * r + 1):
        out |= m[..., d:d + h, :]
    return out


def _gaussian_blur(x: Tensor) -> Tensor:
    """``imfilter(x, fspecial('gaussian', 7, 5))`` with zero padding, as two 1-D passes in float64.

    The MATLAB kernel is the outer product of a 1-D Gaussian (none of its entries falls under the eps cut-off),
    so the separable result equals the 2-D correlation up to rounding; float64 conv2d is very slow on CPU.
    """
    k = torch.exp(-torch.arange(-3, 4, dtype=F64) ** 2 / 50)
    k = (k / k.sum()).tolist()
    h, w = x.shape[-2:]
    p = F.pad(x, (3, 3, 0, 0))
    rows = p[..., 0:w] * k[0]
    for d in range(1, 7):
        rows += p[..., d:d + w] * k[d]
    p = F.pad(rows, (0, 0, 3, 3))
    out = p[..., 0:h, :] * k[0]
    for d in range(1, 7):
        out += p[..., d:d + h, :] * k[d]
    return out


def _distance_to_fg(gt: Tensor) -> Tensor:
    """Exact Euclidean distance of every pixel to the nearest foreground pixel (0 on the foreground), float64."""
    out = []
    for g in gt.cpu().numpy():
        d = cv2.distanceTransform((~g).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        d2 = np.rint(d.astype(np.float64) ** 2)  # float32 error << 0.5 on squared integer distances
        out.append(np.sqrt(d2))
    return torch.from_numpy(np.stack(out)).to(gt.device)


def _nearest_fg_error(err: Tensor, gt: Tensor) -> Tensor:
    """``Et`` of the reference: on background pixels near the foreground, the error at the nearest fg pixel."""
    b, h, w = gt.shape
    band = _dilate(gt, 3) & ~gt
    et = err.clone()
    if not bool(band.any()):
        return et
    hp, wp = h + 2 * _R, w + 2 * _R
    gpad = F.pad(gt, (_R, _R, _R, _R)).reshape(-1)
    epad = F.pad(err, (_R, _R, _R, _R)).reshape(-1)
    bi, ri, ci = band.nonzero(as_tuple=True)
    base = bi * (hp * wp) + (ri + _R) * wp + (ci + _R)
    offs = _OFFSETS.to(gt.device)
    idx = base.view(-1, 1) + (offs[:, 0] * wp + offs[:, 1]).view(1, -1)  # (M, 81)
    first = gpad[idx].to(torch.uint8).argmax(1)  # first foreground pixel in tie order
    et[bi, ri, ci] = epad[idx.gather(1, first.view(-1, 1)).squeeze(1)]
    return et


def weighted_f_from_float(x: Tensor, gt: Tensor, beta2: float = 1.0) -> Tensor:
    """Weighted F-measure of float64 predictions in [0, 1] (B, H, W) against bool GT (B, H, W); (B,) float64.

    Per frame, the reference's full-image arrays reduce to two sums: over the foreground,
    ``min(EA, E)`` (``EA`` is read only there, so it is computed on the foreground's bounding box plus the 7-px
    margin the blur and the nearest-pixel search read), and over the background, ``pred · (2 - exp(log(0.5)/5 · d))``
    (``E = pred`` there, so only non-zero background pixels contribute).
    """
    b, h, w = x.shape
    out = torch.zeros(b, dtype=F64, device=x.device)
    dist = _distance_to_fg(gt)
    k = math.log(0.5) / 5
    for i in range(b):
        g, xi = gt[i], x[i]
        rows, cols = g.any(1).nonzero(), g.any(0).nonzero()
        if rows.numel() == 0:
            continue  # empty GT: 0, as pysodmetrics
        m = 3 + _R
        r0, r1 = max(int(rows[0]) - m, 0), min(int(rows[-1]) + 1 + m, h)
        c0, c1 = max(int(cols[0]) - m, 0), min(int(cols[-1]) + 1 + m, w)
        gc = g[r0:r1, c0:c1].unsqueeze(0)
        err = (xi[r0:r1, c0:c1] - gc[0].to(F64)).abs().unsqueeze(0)
        ea = _gaussian_blur(_nearest_fg_error(err, gc))[0]  # the crop's edge is the image's or >= 7 px away
        e_fg, ea_fg = err[0][gc[0]], ea[gc[0]]
        sum_fg = torch.where(ea_fg < e_fg, ea_fg, e_fg).sum()
        n_fg = float(e_fg.numel())
        bg = (xi > 0) & ~g
        fpw = (xi[bg] * (2 - torch.exp(k * dist[i][bg]))).sum()
        tpw = n_fg - sum_fg
        recall = 1 - sum_fg / n_fg
        precision = tpw / (tpw + fpw + EPS)
        out[i] = (1 + beta2) * recall * precision / (recall + beta2 * precision + EPS)
    return out
