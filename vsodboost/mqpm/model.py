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

__all__ = ["MQPM", "load_mqpm", "mqpm_checkpoint", "DEFAULT_WEIGHTS", "DEFAULT_HQ_WEIGHTS", "CHECKPOINT_FORMAT"]

_log = logging.getLogger("vsodboost.mqpm")

CHECKPOINT_FORMAT = UNET_FORMAT  # the shared U-Net format; files tagged "vsodboost.mqpm" (before it) still load
_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: The shipped default weights (model card: same stem, ``.md``): the motion saliency map (Eq. 6) of the default MQPM.
DEFAULT_WEIGHTS = _WEIGHTS_DIR / "mqpm_lite0_dis.pt"
#: The shipped network whose HQ probability (Eq. 7) the default MQPM uses (same data, Eqs. 6–7 averaged; its card
#: says why the two outputs come from two trainings).
DEFAULT_HQ_WEIGHTS = _WEIGHTS_DIR / "mqpm_lite0_dis_hq.pt"


#: Where a loaded MQPM comes from: ``{"file", "sha256", "card" (model card text or None), "meta"}``, and the same
#: under ``"hq"`` for the network that gives the HQ probability when it is another one (the default).
Provenance = dict


class MQPM:
    """Motion quality prediction: ``predict(flow_images)`` → ``(hq_prob (T,), motion_map (T,H,W))``.

    Flow images (uint8 RGB (T,3,H,W), :func:`vsodboost.flow.flow_to_color`) are resized to the network's
    ``input_size``, run in batches of ``batch_size`` on ``device``, and the maps are resized back to (H, W).
    Outputs are float32 on the input's device.

    With ``hq_net``, the HQ probability (Eq. 7) comes from that network and the motion map (Eq. 6) from ``net``: each
    output from the training that makes it best (the default MQPM; docs/mqpm.md). Without it, both come from ``net``.
    """

    def __init__(self, net: SaliencyUNet, *, hq_net: SaliencyUNet | None = None, device: str | torch.device = "cpu",
                 batch_size: int = 16, provenance: dict[str, Any] | None = None) -> None:
        for which, n in (("the MQPM network", net), ("the HQ network", hq_net)):
            if n is not None and n.cls is None:
                raise InputError(f"{which} needs the classification head (UNetConfig(cls_head=True))")
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.hq_net = hq_net.to(self.device).eval() if hq_net is not None else None
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
        probs, maps = [], []
        for i in range(0, x.shape[0], self.batch_size):
            b = x[i:i + self.batch_size].to(self.device).float() / 255.0
            logits, hq = self.net(_resized(b, self.net))
            if self.hq_net is not None:
                hq = self.hq_net(_resized(b, self.hq_net))[1]
            m = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            probs.append(torch.sigmoid(hq).float().to(out_dev))
            maps.append(torch.sigmoid(m[:, 0]).float().to(out_dev))
        return torch.cat(probs), torch.cat(maps)

    def __repr__(self) -> str:
        src = self.provenance.get("file") if self.provenance else "untrained"
        hq = self.provenance.get("hq", {}).get("file") if self.provenance and self.hq_net is not None else None
        return f"MQPM(encoder={self.config.encoder!r}, input_size={tuple(self.config.input_size)}, " \
               f"device={str(self.device)!r}, weights={src!r}" + (f", hq_weights={hq!r})" if hq else ")")


def _resized(b: torch.Tensor, net: SaliencyUNet) -> torch.Tensor:
    return F.interpolate(b, size=tuple(net.config.input_size), mode="bilinear", align_corners=False, antialias=True)


def mqpm_checkpoint(net: SaliencyUNet, meta: Mapping[str, Any] | None = None, *, half: bool = True) -> dict[str, Any]:
    """The inference checkpoint of a trained MQPM: the shared U-Net format (:mod:`vsodboost.models.checkpoint`)."""
    return unet_checkpoint(net, meta, half=half)


def _read(path: Path, what: str) -> tuple[SaliencyUNet, dict[str, Any]]:
    if not path.is_file():
        hint = ("the package ships it; reinstall vsodboost or train one with `vsodboost train mqpm --data ROOT "
                f"--out {path}` (its model card gives the command)" if path in (DEFAULT_WEIGHTS, DEFAULT_HQ_WEIGHTS)
                else "check the path")
        raise MissingWeightsError(f"{what} weights {path} do not exist: {hint}")
    net, meta = read_unet_checkpoint(path, cls_head=True, what="an MQPM")
    card = path.with_suffix(".md")
    prov = {"file": str(path), "sha256": sha256_file(path), "card": card.read_text() if card.is_file() else None,
            "meta": meta}
    _log.info("%s weights %s (sha256 %s)", what, path, prov["sha256"][:12])
    return net, prov


def load_mqpm(weights: str | os.PathLike[str] = "default", *, hq: str | os.PathLike[str] | None = None,
              device: str | torch.device = "cpu", batch_size: int = 16) -> MQPM:
    """Load an MQPM checkpoint strictly and offline: ``"default"`` (shipped with the package) or a path.

    ``hq``: a second MQPM checkpoint whose HQ probability (Eq. 7) replaces the first one's; the first still gives
    the motion map (Eq. 6). ``"default"`` alone loads the shipped pair (:data:`DEFAULT_WEIGHTS` for the map,
    :data:`DEFAULT_HQ_WEIGHTS` for the HQ probability); a path alone loads that one network for both outputs
    (e.g. ``load_mqpm(DEFAULT_WEIGHTS)``, the default before the pair).

    The architecture is rebuilt from each checkpoint's config; every key and shape must match
    (:class:`~vsodboost.errors.WeightsError` with the diff otherwise). The result's ``provenance`` records the
    file, its sha256, the model card (when one sits beside it) and the training meta, and under ``"hq"`` the same
    of the HQ network when there is one.
    """
    default = str(weights) == "default"
    net, prov = _read(DEFAULT_WEIGHTS if default else Path(weights).expanduser(), "MQPM")
    if hq is None:  # "default" is the shipped pair; a path alone is one network for both outputs
        hq_path = DEFAULT_HQ_WEIGHTS if default else None
    else:
        hq_path = DEFAULT_HQ_WEIGHTS if str(hq) == "default" else Path(hq).expanduser()
    hq_net = None
    if hq_path is not None:
        hq_net, prov["hq"] = _read(hq_path, "MQPM HQ")
    return MQPM(net, hq_net=hq_net, device=device, batch_size=batch_size, provenance=prov)
