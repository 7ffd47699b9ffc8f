"""Colour coding of optical flow on the Middlebury wheel (Baker et al., ICCV 2007), in torch, on the device.

The MQPM reads colour-coded flow images. MGA's flow images (FlowNet2 + Middlebury coding) normalise each frame
by its own maximum radius, so that is the default here; ``normalize="batch"`` normalises by the maximum over the
whole batch and then equals ``torchvision.utils.flow_to_image`` bit for bit.
"""

from __future__ import annotations

from typing import Literal

import torch

from ..errors import InputError

__all__ = ["flow_to_color", "middlebury_wheel"]

# Segment lengths of the wheel: red→yellow, yellow→green, green→cyan, cyan→blue, blue→magenta, magenta→red.
_SEGMENTS = (15, 6, 4, 11, 13, 6)
_wheel_cache: dict[torch.device, torch.Tensor] = {}


def middlebury_wheel(device: torch.device | str = "cpu") -> torch.Tensor:
    """The 55-colour Middlebury wheel, float32 ``(55, 3)`` RGB in 0–255."""
    device = torch.device(device)
    if device not in _wheel_cache:
        rows = []
        ramps = []
        for n in _SEGMENTS:
            ramps.append(torch.floor(255 * torch.arange(n, dtype=torch.float32) / n))
        up_ry, up_yg, up_gc, up_cb, up_bm, up_mr = ramps
        # Each segment raises one channel or lowers another; the wheel goes through R, Y, G, C, B, M.
        full = lambda n: torch.full((n,), 255.0)  # noqa: E731
        zero = lambda n: torch.zeros(n)  # noqa: E731
        rows.append(torch.stack([full(15), up_ry, zero(15)], 1))
        rows.append(torch.stack([255 - up_yg, full(6), zero(6)], 1))
        rows.append(torch.stack([zero(4), full(4), up_gc], 1))
        rows.append(torch.stack([zero(11), 255 - up_cb, full(11)], 1))
        rows.append(torch.stack([up_bm, zero(13), full(13)], 1))
        rows.append(torch.stack([full(6), zero(6), 255 - up_mr], 1))
        _wheel_cache[device] = torch.cat(rows, 0).to(device)
    return _wheel_cache[device]


@torch.no_grad()
def flow_to_color(flow: torch.Tensor, normalize: Literal["frame", "batch"] = "frame") -> torch.Tensor:
    """Colour-code flows on the Middlebury wheel: hue = direction, saturation = magnitude / max magnitude.

    Args:
        flow: float ``(B, 2, H, W)`` flow in pixels (channel 0 = x/right, 1 = y/down), any device.
        normalize: ``"frame"`` divides each flow by its own maximum radius (as MGA's flow images); ``"batch"``
            by the maximum over the batch (identical to ``torchvision.utils.flow_to_image``).

    Returns:
        uint8 ``(B, 3, H, W)`` RGB on the flow's device. Zero motion is white.

    Example:
        >>> img = flow_to_color(torch.ones(1, 2, 4, 4))
        >>> img.dtype, tuple(img.shape)
        (torch.uint8, (1, 3, 4, 4))
    """
    if not isinstance(flow, torch.Tensor):
        raise InputError(f"flow is a {type(flow).__name__}; expected a float tensor (B, 2, H, W)")
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise InputError(f"flow has shape {tuple(flow.shape)}; expected (B, 2, H, W) (add a batch dim with flow[None])")
    if not flow.is_floating_point():
        raise InputError(f"flow has dtype {flow.dtype}; expected a floating-point tensor")
    if normalize not in ("frame", "batch"):
        raise InputError(f"normalize={normalize!r}; expected 'frame' or 'batch'")
    flow = flow.float()
    radius = flow.pow(2).sum(dim=1, keepdim=True).sqrt()  # (B,1,H,W)
    if normalize == "batch":
        max_r = radius.max()
    else:
        max_r = radius.amax(dim=(1, 2, 3), keepdim=True)
    # Same epsilon as torchvision, so an all-zero flow is white and "batch" matches it exactly.
    nflow = flow / (max_r + torch.finfo(torch.float32).eps)

    wheel = middlebury_wheel(flow.device)
    ncols = wheel.shape[0]
    u, v = nflow[:, 0], nflow[:, 1]
    norm = nflow.pow(2).sum(dim=1).sqrt()  # (B,H,W), ≤ 1
    angle = torch.atan2(-v, -u) / torch.pi  # in [-1, 1]
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = torch.floor(fk).long()
    k1 = torch.where(k0 + 1 == ncols, torch.zeros_like(k0), k0 + 1)
    f = (fk - k0).unsqueeze(-1)  # (B,H,W,1)
    col = (1 - f) * (wheel[k0] / 255.0) + f * (wheel[k1] / 255.0)  # (B,H,W,3); this order matches torchvision
    col = 1 - norm.unsqueeze(-1) * (1 - col)  # desaturate towards white for small motion
    return torch.floor(255 * col).to(torch.uint8).permute(0, 3, 1, 2).contiguous()
