"""The one checkpoint format of the shared U-Net (Fig. 6), for the MQPM (with its classification head, Sec. IV)
and for the spatial model (without it, Sec. V-C).

A checkpoint is ``{"format": "vsodboost.unet/1", "config": UNetConfig fields, "state_dict": tensors (fp16 by
default), "meta": plain JSON}``, written atomically and loaded with ``torch.load(..., weights_only=True)``; the
network is rebuilt from ``config`` and its weights loaded strictly, by name (a mismatch raises
:class:`~vsodboost.errors.WeightsError` with the key/shape diff). Whether it is an MQPM is ``config.cls_head``.

MQPM files written before this format was shared (``"format": "vsodboost.mqpm", "version": 1`` — among them the
shipped ``weights/mqpm_lite0_dis.pt``) have the same layout and still load. Training states (``last.pt`` /
``best.pt`` of ``vsodboost train mqpm``: optimizer, step…) are not checkpoints of this kind; training writes its
result in this format to ``--out``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from .._weights import export_state_dict, load_checkpoint, load_state_dict_strict, save_checkpoint, sha256_file
from ..errors import InputError, WeightsError
from .unet import SaliencyUNet, UNetConfig

__all__ = ["UNET_FORMAT", "LEGACY_FORMATS", "unet_checkpoint", "save_unet_checkpoint", "read_unet_checkpoint",
           "load_unet_checkpoint"]

UNET_FORMAT = "vsodboost.unet/1"
#: Older tags of the same layout, still read.
LEGACY_FORMATS = ("vsodboost.mqpm",)


def unet_checkpoint(model: SaliencyUNet, meta: Mapping[str, Any] | None = None, *, half: bool = True) -> dict[str, Any]:
    """The checkpoint of ``model`` as a dict (``torch.save`` it, or use :func:`save_unet_checkpoint`)."""
    return {"format": UNET_FORMAT, "config": model.config.to_dict(), "state_dict": export_state_dict(model, half=half),
            "meta": dict(meta or {})}


def save_unet_checkpoint(model: SaliencyUNet, path: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None,
                         half: bool = True) -> Path:
    """Write ``model`` atomically; ``half`` stores floating tensors in fp16 (halves the file; loads back as fp32)."""
    return save_checkpoint(path, format=UNET_FORMAT, config=model.config.to_dict(),
                           state_dict=export_state_dict(model, half=half), meta=meta)


def read_unet_checkpoint(path: str | os.PathLike[str], *, cls_head: bool | None = None, what: str = "a vsodboost U-Net",
                         map_location: str | torch.device = "cpu") -> tuple[SaliencyUNet, dict[str, Any]]:
    """Rebuild the network of a checkpoint, strictly; returns it and the checkpoint's ``meta``. ``cls_head`` (if
    given) must match: True for an MQPM, False for a spatial model. ``what`` names the expected kind in errors."""
    obj = load_checkpoint(path, map_location=map_location)
    fmt = obj.get("format") if isinstance(obj, Mapping) else type(obj).__name__
    if not isinstance(obj, Mapping) or fmt not in (UNET_FORMAT, *LEGACY_FORMATS):
        training = isinstance(obj, Mapping) and "optimizer" in obj and "step" in obj
        hint = (": it is a training state (last.pt/best.pt); `vsodboost train mqpm` writes the checkpoint to --out"
                if training else "")
        raise WeightsError(f"{path} is not {what} checkpoint (format {fmt!r}, expected {UNET_FORMAT!r}){hint}")
    try:
        config = UNetConfig.from_dict(obj["config"])
    except (KeyError, TypeError, InputError) as exc:
        raise WeightsError(f"{path}: unreadable U-Net config ({exc})") from exc
    if cls_head is not None and config.cls_head != cls_head:
        raise WeightsError(f"{path} holds a U-Net {'with' if config.cls_head else 'without'} the classification head; "
                           f"expected one {'with' if cls_head else 'without'} (an MQPM checkpoint where a spatial model "
                           "belongs, or vice versa?)")
    model = SaliencyUNet(config, pretrained=False)
    load_state_dict_strict(model, obj["state_dict"], source=str(path))
    return model, dict(obj.get("meta", {}))


def load_unet_checkpoint(path: str | os.PathLike[str], *, cls_head: bool | None = None,
                         map_location: str | torch.device = "cpu") -> SaliencyUNet:
    """:func:`read_unet_checkpoint` with ``model.provenance`` = file, sha256 and the checkpoint's meta."""
    model, meta = read_unet_checkpoint(path, cls_head=cls_head, map_location=map_location)
    model.provenance = {"file": str(path), "sha256": sha256_file(path), **meta}  # type: ignore[attr-defined]
    return model
