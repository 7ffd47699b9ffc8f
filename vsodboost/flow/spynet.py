"""SPyNet (Ranjan & Black, "Optical Flow Estimation using a Spatial Pyramid Network", CVPR 2017) in pure PyTorch.

Follows the evaluation of the PyTorch port by S. Niklaus (github.com/sniklaus/pytorch-spynet), whose published
weights it loads: RGB in [0, 1] normalised with ImageNet mean/std; up to 6 pyramid levels by 2×2 average
pooling while the coarsest level is larger than 32 px; at each level one "Basic" module of five 7×7 convolutions
(8 → 32 → 64 → 32 → 16 → 2) predicts a residual flow from [frame 1, frame 2 warped by the upsampled flow, that
flow]; input resized to a multiple of 32; output at full resolution, in pixels (no ×20).
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._weights import WeightSpec
from ._deep import DeepFlow, backwarp

__all__ = ["SPyNet", "SPYNET_VARIANTS", "SPYNET_PUBLISHED_SHAPES"]

_URL = "http://content.sniklaus.com/github/pytorch-spynet/network-{}.pytorch"
_LICENSE = ("research only: 'free for non-commercial and scientific research purpose' "
            "(github.com/anuragranj/spynet#license)")


def _spec(variant: str, description: str) -> WeightSpec:
    return WeightSpec(
        name=variant,
        filename=f"spynet-{variant}.pytorch",
        url=_URL.format(variant),
        sha256=None,  # not published by the authors and not verifiable offline here
        license=_LICENSE,
        source="sniklaus/pytorch-spynet (conversion of the authors' Torch models)",
        description=description,
    )


#: Published weights (sha256 unknown: the files are not checksummed by their publisher and could not be fetched
#: offline to compute one, so downloads are not verified; check the file yourself if that matters to you).
SPYNET_VARIANTS = (
    _spec("sintel-final", "fine-tuned on MPI-Sintel final pass (the port's default)"),
    _spec("sintel-clean", "fine-tuned on MPI-Sintel clean pass"),
    _spec("chairs-final", "trained on FlyingChairs, final"),
    _spec("chairs-clean", "trained on FlyingChairs, clean"),
    _spec("kitti-final", "fine-tuned on KITTI"),
)

# Published checkpoint format: key → shape, written down from the port's network definition
# (keys carry the port's historical 'module' prefix). 6 levels × 5 convs, 1,440,300 parameters.
_CH = (8, 32, 64, 32, 16, 2)


def _published_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for level in range(6):
        for k in range(5):
            prefix = f"moduleBasic.{level}.moduleBasic.{2 * k}"
            shapes[f"{prefix}.weight"] = (_CH[k + 1], _CH[k], 7, 7)
            shapes[f"{prefix}.bias"] = (_CH[k + 1],)
    return shapes


SPYNET_PUBLISHED_SHAPES = _published_shapes()


def _basic() -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(5):
        layers.append(nn.Conv2d(_CH[k], _CH[k + 1], kernel_size=7, stride=1, padding=3))
        if k < 4:
            layers.append(nn.ReLU(inplace=False))
    return nn.Sequential(*layers)


class SPyNet(DeepFlow):
    """SPyNet flow backend (``"spynet"``).

    Args:
        weights: a published variant name (see :data:`SPYNET_VARIANTS`), a checkpoint path, or None for random
            initialisation (tests).
        device: where the network runs (frames on any device are moved there and the flow moved back).
        batch_size: frame pairs per forward pass.

    Example:
        >>> net = SPyNet(weights=None)                  # random weights
        >>> flow = net.estimate(torch.zeros(3, 3, 64, 96, dtype=torch.uint8))
        >>> tuple(flow.shape)
        (2, 2, 64, 96)
    """

    name = "spynet"
    size_multiple = 32
    min_size = 32
    variants = SPYNET_VARIANTS
    rename_rules = [(r"moduleBasic\.(\d)\.moduleBasic\.(\d)\.(weight|bias)", r"levels.\1.\2.\3")]
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, device: Any = None, batch_size: int = 4):
        super().__init__(batch_size=batch_size)
        self.levels = nn.ModuleList([_basic() for _ in range(6)])  # index 0 = coarsest level
        self.register_buffer("_mean", torch.tensor(self.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(self.std).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            self.load_weights(weights)
        if device is not None:
            self.to(device)

    def prepare(self, x: torch.Tensor, position: int) -> torch.Tensor:
        return (x - self._mean) / self._std  # RGB, ImageNet statistics

    def forward(self, one: torch.Tensor, two: torch.Tensor) -> torch.Tensor:
        """Flow in pixels at the input resolution for prepared frames ``(B, 3, H, W)``."""
        ones, twos = [one], [two]
        for _ in range(5):
            if ones[0].shape[2] > 32 or ones[0].shape[3] > 32:
                ones.insert(0, F.avg_pool2d(ones[0], kernel_size=2, stride=2, count_include_pad=False))
                twos.insert(0, F.avg_pool2d(twos[0], kernel_size=2, stride=2, count_include_pad=False))
        b, _, h, w = ones[0].shape
        flow = ones[0].new_zeros(b, 2, math.floor(h / 2), math.floor(w / 2))
        for level, (a, c) in enumerate(zip(ones, twos)):
            up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            # Odd sizes: the upsampled flow is one row/column short; replicate the last one (as the original).
            if up.shape[2] != a.shape[2]:
                up = F.pad(up, [0, 0, 0, 1], mode="replicate")
            if up.shape[3] != a.shape[3]:
                up = F.pad(up, [0, 1, 0, 0], mode="replicate")
            warped = backwarp(c, up, padding_mode="border")
            flow = self.levels[level](torch.cat([a, warped, up], 1)) + up
        return flow
