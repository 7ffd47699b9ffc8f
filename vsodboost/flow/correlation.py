"""Pure-PyTorch cost volume (correlation layer), a drop-in for the CuPy/CUDA kernels of the PWC-Net and
LiteFlowNet ports, on any device.

``out[b, k, i, j] = mean_c f1[b, c, i·s, j·s] · f2[b, c, i·s + dy·s, j·s + dx·s]`` for displacements
``dx, dy ∈ [-d, d]``, channel ``k = (dy + d)·(2d + 1) + (dx + d)`` (dy outer, dx inner, as the CUDA kernels),
zero outside the image. PWC-Net uses ``d = 4, s = 1`` (81 channels); LiteFlowNet ``d = 3`` (49 channels) with
``s = 2`` at its two finest levels and ``s = 1`` elsewhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError

__all__ = ["correlation"]


def correlation(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 4, stride: int = 1) -> torch.Tensor:
    """Correlate ``f1`` with shifted copies of ``f2`` (see the module docstring for the exact definition).

    Args:
        f1, f2: feature maps ``(B, C, H, W)`` of the same shape.
        max_displacement: ``d``; the output has ``(2d + 1)²`` channels.
        stride: ``s``; sampling stride of both the output positions and the displacements.

    Returns:
        ``(B, (2d+1)², ceil(H/s), ceil(W/s))`` in ``f1``'s dtype.
    """
    if f1.shape != f2.shape or f1.ndim != 4:
        raise InputError(f"correlation needs two (B, C, H, W) maps of one shape, got {tuple(f1.shape)} and "
                         f"{tuple(f2.shape)}")
    if max_displacement < 0 or stride < 1:
        raise InputError(f"max_displacement={max_displacement} must be >= 0 and stride={stride} >= 1")
    d, s = max_displacement, stride
    _, c, h, w = f1.shape
    ho, wo = -(-h // s), -(-w // s)
    reach = d * s
    # f2 padded by the largest displacement: a displacement is then a plain slice, no gather, no grid_sample.
    f2p = F.pad(f2, (reach, reach, reach, reach))
    a = f1[:, :, ::s, ::s]
    out = []
    for dy in range(-d, d + 1):
        y0 = reach + dy * s
        rows = f2p[:, :, y0 : y0 + (ho - 1) * s + 1 : s]
        for dx in range(-d, d + 1):
            x0 = reach + dx * s
            b = rows[:, :, :, x0 : x0 + (wo - 1) * s + 1 : s]
            out.append((a * b).mean(dim=1))
    return torch.stack(out, dim=1)
