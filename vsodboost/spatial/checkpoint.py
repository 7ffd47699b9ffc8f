"""Checkpoints of the shared U-Net: ``{"config", "state_dict", "meta"}``, readable with ``weights_only=True``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from .._weights import export_state_dict, load_checkpoint, load_state_dict_strict, save_checkpoint, sha256_file
from ..errors import WeightsError
from ..models import SaliencyUNet, UNetConfig

__all__ = ["save_unet_checkpoint", "load_unet_checkpoint"]


def save_unet_checkpoint(model: SaliencyUNet, path: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
                         half: bool = True) -> Path:
    """Write ``model`` atomically; ``half`` stores floating tensors in fp16 (halves the file; loads back as fp32)."""
    return save_checkpoint(path, format="vsodboost.unet/1", config=model.config.to_dict(),
                           state_dict=export_state_dict(model, half=half), meta=meta)


def load_unet_checkpoint(path: str | os.PathLike[str], *, cls_head: bool | None = None,
                         map_location: str | torch.device = "cpu") -> SaliencyUNet:
    """Rebuild a :class:`SaliencyUNet` from a checkpoint, strictly. ``cls_head`` (if given) must match."""
    obj = load_checkpoint(path, map_location=map_location)
    if not isinstance(obj, dict) or obj.get("format") != "vsodboost.unet/1":
        raise WeightsError(f"{path} is not a vsodboost U-Net checkpoint (expected format 'vsodboost.unet/1')")
    config = UNetConfig.from_dict(obj["config"])
    if cls_head is not None and config.cls_head != cls_head:
        want = "with" if cls_head else "without"
        raise WeightsError(f"{path} holds a U-Net {'with' if config.cls_head else 'without'} classification head; "
                           f"expected one {want} (an MQPM checkpoint where a spatial model belongs, or vice versa?)")
    model = SaliencyUNet(config, pretrained=False)
    load_state_dict_strict(model, obj["state_dict"], source=str(path))
    model.provenance = {"file": str(path), "sha256": sha256_file(path), **obj.get("meta", {})}  # type: ignore[attr-defined]
    return model
