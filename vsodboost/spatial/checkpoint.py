"""Checkpoints of the spatial U-Net: the shared format of :mod:`vsodboost.models.checkpoint` (re-exported)."""

from __future__ import annotations

from ..models.checkpoint import load_unet_checkpoint, save_unet_checkpoint

__all__ = ["save_unet_checkpoint", "load_unet_checkpoint"]
