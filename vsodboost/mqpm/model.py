"""The MQPM predictor (Fig. 6): per-frame high-quality probability and motion saliency map from flow images."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from .._weights import sha256_file
from ..errors import InputError, MissingWeightsError
from ..models import SaliencyUNet, UNetConfig
from ..models.checkpoint import UNET_FORMAT, read_unet_checkpoint, unet_checkpoint

__all__ = ["MQPM", "load_mqpm", "mqpm_checkpoint", "DEFAULT_WEIGHTS", "CHECKPOINT_FORMAT"]

_log = logging.getLogger("vsodboost.mqpm")

CHECKPOINT_FORMAT = UNET_FORMAT  # the shared U-Net format; files tagged "vsodboost.mqpm" (before it) still load
_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: The shipped default weights (model card: same stem, ``.md``).
DEFAULT_WEIGHTS = _WEIGHTS_DIR / "mqpm_lite0_dis.pt"


#: Where a loaded MQPM comes from: ``{"file", "sha256", "card" (model card text or None), "meta"}``.
Provenance = dict


class MQPM:
    """Motion quality prediction: ``predict(flow_images)`` → ``(hq_prob (T,), motion_map (T,H,W))``.

    Flow images (uint8 RGB (T,3,H,W), :func:`vsodboost.flow.flow_to_color`) are resized to the network's
    ``input_size``, run in batches of ``batch_size`` on ``device``, and the maps are resized back to (H, W).
    Outputs are float32 on the input's device.
    """

    def __init__(self, net: SaliencyUNet, *, device: str | torch.device = "cpu", batch_size: int = 16,
                 provenance: dict[str, Any] | None = None) -> None:
        if net.cls is None:
            raise InputError("the MQPM network needs the classification head (UNetConfig(cls_head=True))")
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.batch_size = int(batch_size)
        self.provenance = provenance

    @property
    def config(self) -> UNetConfig:
        return self.net.config

    @torch.no_grad()
    def predict(self, flow_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(flow_images)
        if x.ndim != 4 or x.shape[1] != 3 or x.dtype != torch.uint8:
            raise InputError(
                f"MQPM.predict expects colour-coded flow images uint8 (T,3,H,W); got {x.dtype} {tuple(x.shape)} "
                "(use vsodboost.flow.flow_to_color on (T,2,H,W) flows)"
            )
        if x.shape[0] == 0:
            raise InputError("MQPM.predict got 0 flow images")
        out_dev = x.device
        h, w = x.shape[-2:]
        size = tuple(self.config.input_size)
        probs, maps = [], []
        for i in range(0, x.shape[0], self.batch_size):
            b = x[i:i + self.batch_size].to(self.device).float() / 255.0
            b = F.interpolate(b, size=size, mode="bilinear", align_corners=False, antialias=True)
            logits, hq = self.net(b)
            m = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            probs.append(torch.sigmoid(hq).float().to(out_dev))
            maps.append(torch.sigmoid(m[:, 0]).float().to(out_dev))
        return torch.cat(probs), torch.cat(maps)

    def __repr__(self) -> str:
        src = self.provenance.get("file") if self.provenance else "untrained"
        return f"MQPM(encoder={self.config.encoder!r}, input_size={tuple(self.config.input_size)}, " \
               f"device={str(self.device)!r}, weights={src!r})"


def mqpm_checkpoint(net: SaliencyUNet, meta: Mapping[str, Any] | None = None, *, half: bool = True) -> dict[str, Any]:
    """The inference checkpoint of a trained MQPM: the shared U-Net format (:mod:`vsodboost.models.checkpoint`)."""
    return unet_checkpoint(net, meta, half=half)


def load_mqpm(weights: str | os.PathLike[str] = "default", *, device: str | torch.device = "cpu",
              batch_size: int = 16) -> MQPM:
    """Load an MQPM checkpoint strictly and offline: ``"default"`` (shipped with the package) or a path.

    The architecture is rebuilt from the checkpoint's config; every key and shape must match
    (:class:`~vsodboost.errors.WeightsError` with the diff otherwise). The result's ``provenance`` records the
    file, its sha256, the model card (when one sits beside it) and the training meta.
    """
    path = DEFAULT_WEIGHTS if str(weights) == "default" else Path(weights).expanduser()
    if not path.is_file():
        hint = ("the package ships it; reinstall vsodboost or train one with `vsodboost train mqpm --data ROOT "
                f"--out {DEFAULT_WEIGHTS}`" if path == DEFAULT_WEIGHTS else "check the path")
        raise MissingWeightsError(f"MQPM weights {path} do not exist: {hint}")
    net, meta = read_unet_checkpoint(path, cls_head=True, what="an MQPM")
    card = path.with_suffix(".md")
    prov = {"file": str(path), "sha256": sha256_file(path), "card": card.read_text() if card.is_file() else None,
            "meta": meta}
    _log.info("MQPM weights %s (sha256 %s)", path, prov["sha256"][:12])
    return MQPM(net, device=device, batch_size=batch_size, provenance=prov)
