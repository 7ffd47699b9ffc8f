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


def _gaussian_blur_valid(x: Tensor, pr0: int, r0: int, r1: int, pc0: int, c0: int, c1: int) -> Tensor:
    """The zero-padded blur of ``x`` restricted to rows r0:r1, cols c0:c1 (reads a 3-px margin around them)."""
    h, w = x.shape
    pr1, pc1 = min(r1 + 3, h), min(c1 + 3, w)
    out = _gaussian_blur(x[pr0:pr1, pc0:pc1])
    # where the margin was cut by the crop (not by the image border), _gaussian_blur padded zeros in the wrong
    # place; those rows/cols are dropped below because r0 - pr0 == 3 unless the image border is there.
    return out[r0 - pr0:r0 - pr0 + (min(r1, h) - r0), c0 - pc0:c0 - pc0 + (min(c1, w) - c0)]


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
    """Weighted F-measure of float64 predictions in [0, 1] (B, H, W) against bool GT (B, H, W); (B,) float64."""
    gf = gt.to(F64)
    err = (x - gf).abs()
    et = _nearest_fg_error(err, gt)
    ea = torch.zeros_like(et)
    for i in range(gt.shape[0]):  # EA is only read on the foreground: blur its bounding box (+3 px) only
        rows = gt[i].any(1).nonzero()
        cols = gt[i].any(0).nonzero()
        if rows.numel() == 0:
            continue
        r0, r1 = max(int(rows[0]) - 3, 0), int(rows[-1]) + 4
        c0, c1 = max(int(cols[0]) - 3, 0), int(cols[-1]) + 4
        # a 3-px margin around the box keeps the zero padding where the image ends and real values elsewhere
        pr0, pc0 = max(r0 - 3, 0), max(c0 - 3, 0)
        crop = _gaussian_blur_valid(et[i], pr0, r0, r1, pc0, c0, c1)
        ea[i, r0:r1, c0:c1] = crop
    min_e_ea = torch.where(gt & (ea < err), ea, err)
    dist = _distance_to_fg(gt)
    importance = torch.where(gt, torch.ones_like(dist), 2 - torch.exp(math.log(0.5) / 5 * dist))
    ew = min_e_ea * importance
    n_fg = gf.sum((1, 2))
    ew_fg = (ew * gf).sum((1, 2))
    tpw = n_fg - ew_fg
    fpw = (ew * (1 - gf)).sum((1, 2))
    recall = 1 - ew_fg / n_fg.clamp(min=1)
    precision = tpw / (tpw + fpw + EPS)
    q = (1 + beta2) * recall * precision / (recall + beta2 * precision + EPS)
    return torch.where(n_fg > 0, q, torch.zeros_like(q))
