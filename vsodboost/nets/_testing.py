"""Test helpers: tiny fake checkpoints with the official key names and shapes, and a synthetic moving-square clip.

A fake checkpoint stores every tensor as a stride-0 view of one element, so a 360 MB network's file is a few
hundred kB while names, shapes and dtypes are exactly those of the official file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = ["read_manifest", "fake_state", "save_fake_checkpoint", "moving_square"]


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A key manifest: ``{"keys": {name: shape}, ...}`` recorded from the authors' model definition."""
    return json.loads(Path(path).read_text())


def fake_state(keys: Mapping[str, Sequence[int]], value: float = 0.5) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for k, shape in keys.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(0, dtype=torch.long)
        else:
            out[k] = torch.full((1,), value).expand(*shape) if shape else torch.tensor(value)
    return out


def save_fake_checkpoint(path: str | os.PathLike[str], keys: Mapping[str, Sequence[int]],
                         wrap: Callable[[dict[str, torch.Tensor]], Any] | None = None) -> Path:
    """Write ``wrap(fake_state(keys))`` (default: the plain state dict) with ``torch.save``."""
    state = fake_state(keys)
    torch.save(wrap(state) if wrap else state, path)
    return Path(path)


def moving_square(n: int, h: int = 48, w: int = 64, side: int = 12, step: int = 3) -> list[np.ndarray]:
    """``n`` uint8 RGB frames: a bright square moving right over a dark textured background."""
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
    frames = []
    for i in range(n):
        f = bg.copy()
        x = (4 + i * step) % max(1, w - side)
        f[h // 2 - side // 2 : h // 2 + side // 2, x : x + side] = (230, 200, 40)
        frames.append(f)
    return frames
