"""``adapters.u2netp()``: a live target that runs offline with real weights — U²-Net-p (DUTS-trained by its
authors, shipped in the package) applied frame by frame, as rembg runs it: 320² input, each image divided by its
max, ImageNet mean/std, sigmoid of the fused output, min-max normalised, resized back to the frame size.

An image model used as a VSOD target: the Booster then adds what a still-image model lacks (motion, the video's
own appearance).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vsodboost.video import Video

__all__ = ["U2NetTarget"]


class U2NetTarget:
    """Live U²-Net(-p) target. ``weights``: None (shipped ``u2netp``), the authors' ``u2netp.pth``/``u2net.pth``, or
    a vsodboost U²-Net checkpoint; ``input_size``: square side (320 as trained); ``batch``: frames per forward."""

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, input_size: int = 320, batch: int = 8,
                 device: str | torch.device = "cpu", name: str = "u2netp") -> None:
        from vsodboost._checks import check_int
        from vsodboost._device import resolve_device
        from vsodboost.spatial._plugin import u2netp_spatial

        self.name = name
        self.input_size = check_int("u2netp: input_size", input_size, lo=32, hint=" (320 as trained)")
        self.batch = check_int("u2netp: batch", batch, lo=1)
        self.device = resolve_device(device)
        self.net = u2netp_spatial(weights).to(self.device).eval()
        self.provenance = dict(getattr(self.net, "provenance", {}))

    @torch.no_grad()
    def predict_frames(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Float32 maps in [0, 1] at frame size for uint8 RGB frames (H×W×3)."""
        out: list[np.ndarray] = []
        for s in range(0, len(frames), self.batch):
            chunk = frames[s: s + self.batch]
            h, w = chunk[0].shape[:2]
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).to(self.device).float() / 255.0
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
            p = torch.sigmoid(self.net(x))
            lo = p.amin(dim=(1, 2, 3), keepdim=True)
            hi = p.amax(dim=(1, 2, 3), keepdim=True)
            p = (p - lo) / (hi - lo).clamp_min(1e-8)  # rembg's min-max normalisation of the fused map
            p = F.interpolate(p, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
            out += [m for m in p[:, 0].float().cpu().numpy()]
        return out

    def predict(self, video: Video) -> list[np.ndarray]:
        return self.predict_frames(list(video))

    def __repr__(self) -> str:
        sha = str(self.provenance.get("sha256", ""))[:12]
        return f"U2NetTarget(input_size={self.input_size}, weights_sha256={sha!r}, device={str(self.device)!r})"
