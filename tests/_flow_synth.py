"""Synthetic videos with known motion for the flow tests (pure numpy, deterministic)."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def texture(h: int, w: int, seed: int = 0, blur: float = 1.5) -> np.ndarray:
    """A smooth random RGB texture (uint8 H×W×3): enough gradient everywhere for flow to be well posed."""
    rng = np.random.default_rng(seed)
    img = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), blur)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.round().astype(np.uint8)


def translation(t: int, h: int, w: int, dx: int, dy: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A window panning over a larger texture: every pixel moves by (dx, dy) between frames.

    Returns frames uint8 (T, 3, H, W) and the true forward flow float32 (T-1, 2, H, W).
    """
    m = 2 + abs(dx) * t + abs(dy) * t
    big = texture(h + 2 * m, w + 2 * m, seed)
    frames = []
    for i in range(t):
        # Content moves by +dx means the window moves by -dx.
        y0, x0 = m - dy * i, m - dx * i
        frames.append(big[y0 : y0 + h, x0 : x0 + w])
    flow = torch.zeros(t - 1, 2, h, w)
    flow[:, 0], flow[:, 1] = dx, dy
    return _to_tensor(frames), flow


def moving_object(
    t: int, h: int, w: int, dx: int, dy: int, *, pan: tuple[int, int] = (0, 0), size: int = 24, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A textured square moving by (dx, dy) over a background that is static (``pan=(0, 0)``) or panning.

    Returns frames (T, 3, H, W) uint8, the true forward flow (T-1, 2, H, W) and the object masks (T-1, H, W) of
    the source frames.
    """
    px, py = pan
    bg_frames, _ = translation(t, h, w, px, py, seed)
    obj = texture(size, size, seed + 1, blur=1.0)
    y, x = h // 2 - size // 2 - dy * t // 2, w // 2 - size // 2 - dx * t // 2
    frames, flows, masks = [], [], []
    for i in range(t):
        f = bg_frames[i].permute(1, 2, 0).numpy().copy()
        yy, xx = y + dy * i, x + dx * i
        f[yy : yy + size, xx : xx + size] = obj
        frames.append(f)
        if i < t - 1:
            fl = torch.zeros(2, h, w)
            fl[0], fl[1] = px, py
            fl[0, yy : yy + size, xx : xx + size] = dx
            fl[1, yy : yy + size, xx : xx + size] = dy
            mk = torch.zeros(h, w, dtype=torch.bool)
            mk[yy : yy + size, xx : xx + size] = True
            flows.append(fl)
            masks.append(mk)
    return _to_tensor(frames), torch.stack(flows), torch.stack(masks)


def epe(pred: torch.Tensor, true: torch.Tensor, border: int = 6, exclude: torch.Tensor | None = None) -> float:
    """Mean end-point error over the interior (``border`` px off the image edges, where content enters/leaves),
    optionally excluding a boolean mask (occlusion bands)."""
    e = (pred - true).pow(2).sum(1).sqrt()
    keep = torch.zeros_like(e, dtype=torch.bool)
    keep[:, border:-border, border:-border] = True
    if exclude is not None:
        keep &= ~exclude
    return float(e[keep].mean())


def boundary_band(masks: torch.Tensor, width: int = 4) -> torch.Tensor:
    """Pixels within ``width`` of an object boundary (occluded/disoccluded regions have no defined flow)."""
    k = 2 * width + 1
    m = masks.float()[:, None]
    dil = torch.nn.functional.max_pool2d(m, k, 1, width)
    ero = -torch.nn.functional.max_pool2d(-m, k, 1, width)
    return (dil - ero)[:, 0] > 0


def _to_tensor(frames: list) -> torch.Tensor:
    return torch.stack([torch.as_tensor(np.ascontiguousarray(f)) for f in frames]).permute(0, 3, 1, 2).contiguous()
