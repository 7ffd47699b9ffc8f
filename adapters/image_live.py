"""``adapters.image(spatial=...)``: any image salient-object model as a live VSOD target — self-boosting.

The model is a spatial model of the registry (``vsodboost plugins``: ``lite0``, ``u2netp``, ``u2netp_davis``, or
one a plugin registers), a checkpoint file from ``vsodboost train spatial``, or an ``nn.Module`` mapping RGB [0,1]
(B,3,H,W) to logits (B,1,H,W). It runs frame by frame exactly as the Booster runs its spatial model
(:func:`vsodboost.spatial.predict_maps`: resize to the model's own input size, sigmoid, bilinear back to the frame),
in float32. The Booster then adds what a still-image model lacks: motion (MQPM mining, Eqs. 2–5) and the video's own
appearance (per-buffer fine-tuning, Sec. V-C). ``adapters.u2netp()`` is the same idea for U²-Net-p with rembg's
min-max normalisation.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from vsodboost.video import Video

__all__ = ["ImageModelTarget"]


def _native_size(model: torch.nn.Module) -> int:
    """The side a model was trained at, from its ``config.input_size`` (int or (h, w)); 224 when it has none."""
    size = getattr(getattr(model, "config", None), "input_size", None)
    if isinstance(size, (tuple, list)) and size:
        size = size[0]
    return int(size) if isinstance(size, int) and size >= 32 else 224


class ImageModelTarget:
    """A live target that runs an image saliency model on every frame.

    ``spatial``: a registry name, a ``.pt``/``.pth`` checkpoint or an ``nn.Module``; ``input_size``: square side the
    model sees (default: its ``config.input_size``, e.g. 224 for ``lite0``, 320 for ``u2netp``); ``batch``: frames
    per forward; ``name``: the target's name in reports (default ``image:<spatial>``)."""

    def __init__(self, spatial: Any = "lite0", *, input_size: int | None = None, batch: int = 8,
                 device: str | torch.device = "cpu", name: str | None = None) -> None:
        from vsodboost._checks import check_int
        from vsodboost._device import resolve_device
        from vsodboost.spatial import load_spatial

        if input_size is not None:
            input_size = check_int("image target: input_size", input_size, lo=32,
                                   hint=" (or None for the model's own size)")
        batch = check_int("image target: batch", batch, lo=1)
        self.device = resolve_device(device)
        self.net = load_spatial(spatial).to(self.device).eval()
        if isinstance(spatial, torch.nn.Module):
            self.spatial = type(spatial).__name__
        else:  # a registry name, or a checkpoint file named by its file name
            self.spatial = os.path.basename(os.fspath(spatial))
        self.name = name or f"image:{self.spatial}"
        self.input_size = input_size or _native_size(self.net)
        self.batch = batch
        self.provenance = {"spatial": self.spatial, **dict(getattr(self.net, "provenance", {}))}

    @torch.no_grad()
    def predict_frames(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Float32 maps in [0, 1] at frame size for uint8 RGB frames (H×W×3)."""
        from vsodboost.spatial import predict_maps

        if not len(frames):
            return []
        x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
        maps = predict_maps(self.net, x, input_size=self.input_size, batch=self.batch)
        return [m for m in maps.numpy()]

    def predict(self, video: Video) -> list[np.ndarray]:
        return self.predict_frames(list(video))

    def __repr__(self) -> str:
        sha = str(self.provenance.get("sha256", ""))[:12]
        return (f"ImageModelTarget(spatial={self.spatial!r}, input_size={self.input_size}, weights_sha256={sha!r}, "
                f"device={str(self.device)!r})")
