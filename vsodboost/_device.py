"""One device resolver for every component (Booster, MQPM training, live target networks)."""

from __future__ import annotations

import torch

from .errors import InputError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; any other value must name a usable torch device."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device={device!r} is not a torch device; expected 'auto', 'cpu', 'cuda', 'cuda:1'…") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={device!r} was requested but CUDA is not available here; use 'cpu' or 'auto'")
    return dev
