"""Shared machinery of the deep flow backends: batched pair estimation, size-multiple resizing, output scaling,
backward warping and weight loading (explicit path → cache → download with checksum → MissingWeightsError).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .._weights import WeightSpec, load_checkpoint, load_state_dict_strict, rename_keys, resolve_weights
from .._weights import unwrap_state_dict
from ..errors import InputError, UnknownNameError
from ._base import check_frames, module_device

__all__ = ["DeepFlow", "backwarp", "RenameRule", "published_to_ours"]

#: (regex matching a whole published key, replacement string or function of the match)
RenameRule = tuple[str, Union[str, Callable[["re.Match[str]"], str]]]


class DeepFlow(nn.Module):
    """Base class of the pure-PyTorch deep backends (SPyNet, PWC-Net, LiteFlowNet).

    A subclass sets ``name``, ``size_multiple``, ``min_size``, ``variants`` (published weights), ``rename_rules``
    (published checkpoint key → our key) and implements ``prepare`` (colour order, normalisation) and
    ``forward(one, two)`` returning the network's raw flow in pixels of the resized input (any resolution: the
    ×20 scaling of the Caffe-trained networks is part of ``forward``).

    ``estimate`` then follows the authors' evaluation scripts: bilinear resize (align_corners=False) to the next
    multiple of ``size_multiple``, network, bilinear resize of the flow back to the frame size, and multiplication
    of u by W/W' and v by H/H'. Frame pairs are batched ``batch_size`` at a time on the module's device.
    """

    name = "deep"
    size_multiple = 32
    min_size = 32
    variants: Sequence[WeightSpec] = ()
    rename_rules: Sequence[RenameRule] = ()

    def __init__(self, *, batch_size: int = 4) -> None:
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size={batch_size!r}; expected an integer >= 1")
        self.batch_size = batch_size
        self.weights_name: str | None = None

    # -- subclasses --------------------------------------------------------------------------------
    def prepare(self, x: torch.Tensor, position: int) -> torch.Tensor:
        """Map RGB float frames in [0, 1] ``(B, 3, H, W)`` to the network's input; ``position`` is 0 for the
        first frame of a pair and 1 for the second (LiteFlowNet subtracts different means)."""
        return x

    # -- contract ----------------------------------------------------------------------------------
    device = property(lambda self: module_device(self))

    @torch.no_grad()
    def estimate(self, frames: torch.Tensor) -> torch.Tensor:
        """Forward flows ``(T-1, 2, H, W)`` float32 in pixels for uint8 RGB frames ``(T, 3, H, W)``."""
        frames = check_frames(frames, min_size=self.min_size, backend=self.name)
        out_device = frames.device
        t, _, h, w = frames.shape
        m = self.size_multiple
        hp, wp = -(-h // m) * m, -(-w // m) * m
        was_training = self.training
        self.eval()
        try:
            flows = []
            for i in range(0, t - 1, self.batch_size):
                j = min(i + self.batch_size, t - 1)
                # Frames i..j are resized once and shared by the overlapping pairs (i, i+1), ..., (j-1, j).
                x = frames[i : j + 1].to(self.device, non_blocking=True).float().div_(255.0)
                if (hp, wp) != (h, w):
                    x = F.interpolate(x, size=(hp, wp), mode="bilinear", align_corners=False)
                flow = self(self.prepare(x[:-1], 0), self.prepare(x[1:], 1))
                flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
                scale = torch.tensor([w / wp, h / hp], device=flow.device, dtype=flow.dtype).view(1, 2, 1, 1)
                flows.append((flow * scale).float())
        finally:
            self.train(was_training)
        return torch.cat(flows).to(out_device)

    # -- weights -----------------------------------------------------------------------------------
    @classmethod
    def variant(cls, name: str) -> WeightSpec:
        for spec in cls.variants:
            if spec.name == name:
                return spec
        raise UnknownNameError(
            f"{cls.name} has no weight variant {name!r}; published variants: "
            f"{', '.join(s.name for s in cls.variants)} (or pass a checkpoint path, or weights=None for random)"
        )

    def load_weights(self, weights: str | os.PathLike[str], *, download: bool | None = None) -> "DeepFlow":
        """Load a published variant by name, or a checkpoint file in the published format, strictly by name.

        Sources: an existing file path → ``$VSODBOOST_HOME/flow/<file>`` → download with sha256 →
        :class:`~vsodboost.MissingWeightsError` naming the file to place in the cache.
        """
        if isinstance(weights, (str, os.PathLike)) and (os.sep in str(weights) or Path(weights).suffix):
            spec = WeightSpec(name=str(weights), filename=Path(weights).name)
            path = resolve_weights(spec, weights)
        else:
            spec = self.variant(str(weights))
            path = resolve_weights(spec, subdir="flow", download=download)
        state = unwrap_state_dict(load_checkpoint(path))
        load_state_dict_strict(self, published_to_ours(state, self.rename_rules), source=f"{self.name} weights {path}")
        self.weights_name = spec.name
        return self

    def extra_repr(self) -> str:
        return f"weights={self.weights_name!r}, batch_size={self.batch_size}"


def published_to_ours(state: Mapping[str, Any], rules: Sequence[RenameRule]) -> dict[str, Any]:
    """Rename published checkpoint keys with an explicit regex table (first matching rule wins).

    A key no rule matches is kept as is, so the strict load reports it as unexpected in its diff.
    """
    compiled = [(re.compile(p), r) for p, r in rules]

    def fn(key: str) -> str:
        for pat, rep in compiled:
            if pat.fullmatch(key):
                return pat.sub(rep, key)
        return key

    return rename_keys(state, fn=fn)


def backwarp(x: torch.Tensor, flow: torch.Tensor, *, padding_mode: str = "zeros", mask: bool = False) -> torch.Tensor:
    """Sample ``x`` at ``p + flow(p)`` (bilinear, align_corners=True, as the authors' ports).

    ``mask=True`` zeroes pixels whose footprint leaves the image (PWC-Net's partial-sample mask, threshold 0.999).
    """
    _, _, h, w = flow.shape
    # The identity grid is rebuilt per call, not cached: at 480×854 on one CPU thread building it takes 0.2 ms
    # against ~5 ms for the warp, and a whole SPyNet / PWC-Net / LiteFlowNet estimate shows no difference; an
    # unbounded module cache keyed by (h, w, device, dtype) kept one tensor per size for the life of the process.
    gx = torch.linspace(-1.0, 1.0, w, device=flow.device, dtype=flow.dtype).view(1, 1, w).expand(1, h, w)
    gy = torch.linspace(-1.0, 1.0, h, device=flow.device, dtype=flow.dtype).view(1, h, 1).expand(1, h, w)
    # Pixels → normalised coordinates: align_corners=True maps pixel 0 to -1 and pixel W-1 to +1.
    norm = torch.stack([flow[:, 0] * (2.0 / max(w - 1, 1)), flow[:, 1] * (2.0 / max(h - 1, 1))], dim=-1)
    grid = torch.stack([gx, gy], dim=-1) + norm  # (1, H, W, 2) + (B, H, W, 2)
    if mask:
        ones = x.new_ones(x.shape[0], 1, x.shape[2], x.shape[3])
        out = F.grid_sample(torch.cat([x, ones], 1), grid, mode="bilinear", padding_mode=padding_mode,
                            align_corners=True)
        valid = (out[:, -1:] > 0.999).to(x.dtype)
        return out[:, :-1] * valid
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
