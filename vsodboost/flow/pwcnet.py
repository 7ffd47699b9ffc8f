"""PWC-Net (Sun et al., "PWC-Net: CNNs for Optical Flow Using Pyramid, Warping, and Cost Volume", CVPR 2018)
in pure PyTorch: the cost volume is :func:`~vsodboost.flow.correlation.correlation`, so it runs on CPU and GPU
without CuPy.

Follows the evaluation of the PyTorch port by S. Niklaus (github.com/sniklaus/pytorch-pwc), whose published
weights it loads: BGR in [0, 1] without normalisation; a 6-level feature pyramid (16/32/64/96/128/196 channels,
stride 2 each); at levels 6 → 2 a densely connected decoder reads the 81-channel cost volume (max displacement 4,
channel mean, leaky ReLU) against frame 2's features warped by the upsampled flow; a context network with
dilations 1, 2, 4, 8, 16, 1 refines the level-2 flow. Input resized to a multiple of 64; the output is at 1/4
resolution and ×20 (the Caffe training scaled flow by 1/20), in pixels of the full-resolution input.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from .._weights import WeightSpec
from ._deep import DeepFlow, backwarp
from .correlation import correlation

__all__ = ["PWCNet", "PWCNET_VARIANTS", "PWCNET_PUBLISHED_SHAPES"]

_URL = "http://content.sniklaus.com/github/pytorch-pwc/network-{}.pytorch"
_LICENSE = "CC BY-NC-SA 4.0 (NVlabs/PWC-Net: non-commercial, share-alike)"

#: Published weights. sha256=None: the publisher gives no checksum and the files could not be fetched offline to
#: compute one, so a download is not verified.
PWCNET_VARIANTS = (
    WeightSpec("default", "pwcnet-default.pytorch", _URL.format("default"), None, _LICENSE,
               "sniklaus/pytorch-pwc (conversion of the authors' Caffe model)",
               "the authors' model fine-tuned on MPI-Sintel (the port's default)"),
    WeightSpec("chairs-things", "pwcnet-chairs-things.pytorch", _URL.format("chairs-things"), None, _LICENSE,
               "sniklaus/pytorch-pwc (conversion of the authors' Caffe model)",
               "trained on FlyingChairs then FlyingThings3D"),
)

_ORDINALS = ("One", "Two", "Thr", "Fou", "Fiv", "Six")
_FEAT = (16, 32, 64, 96, 128, 196)  # extractor channels per level 1..6
_CORR = 81
_DENSE = (128, 128, 96, 64, 32)  # decoder dense-block widths; their sum is 448
_BACKWARP = {2: 5.0, 3: 2.5, 4: 1.25, 5: 0.625}  # 20 / 2^level: ×20 flow of the level above → pixels here


def _decoder_in(level: int) -> int:
    """Channels entering the decoder at ``level``: cost volume (+ features, upsampled flow and features)."""
    return _CORR if level == 6 else _CORR + _FEAT[level - 1] + 2 + 2


def _published_shapes() -> dict[str, tuple[int, ...]]:
    """The published checkpoint's keys (the port's historical 'module' names) → shapes; 9,374,274 parameters."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(key: str, cout: int, cin: int, k: int = 3) -> None:
        shapes[f"{key}.weight"] = (cout, cin, k, k)
        shapes[f"{key}.bias"] = (cout,)

    cin = 3
    for i, c in enumerate(_FEAT):
        for j in (0, 2, 4):
            conv(f"moduleExtractor.module{_ORDINALS[i]}.{j}", c, cin if j == 0 else c)
        cin = c
    for level in range(2, 7):
        top = f"module{_ORDINALS[level - 1]}"
        cur = _decoder_in(level)
        if level < 6:
            prev = _decoder_in(level + 1) + sum(_DENSE)
            shapes[f"{top}.moduleUpflow.weight"] = (2, 2, 4, 4)  # ConvTranspose2d: (in, out, k, k)
            shapes[f"{top}.moduleUpflow.bias"] = (2,)
            shapes[f"{top}.moduleUpfeat.weight"] = (prev, 2, 4, 4)
            shapes[f"{top}.moduleUpfeat.bias"] = (2,)
        width = cur
        for k, c in enumerate(_DENSE):
            conv(f"{top}.module{_ORDINALS[k]}.0", c, width)
            width += c
        conv(f"{top}.moduleSix.0", 2, width)
    chans = (_decoder_in(2) + sum(_DENSE), 128, 128, 128, 96, 64, 32, 2)
    for k in range(7):
        conv(f"moduleRefiner.moduleMain.{2 * k}", chans[k + 1], chans[k])
    return shapes


PWCNET_PUBLISHED_SHAPES = _published_shapes()


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(negative_slope=0.1, inplace=False)


class _Extractor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        levels, cin = [], 3
        for c in _FEAT:
            levels.append(nn.Sequential(
                nn.Conv2d(cin, c, 3, stride=2, padding=1), _lrelu(),
                nn.Conv2d(c, c, 3, stride=1, padding=1), _lrelu(),
                nn.Conv2d(c, c, 3, stride=1, padding=1), _lrelu(),
            ))
            cin = c
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for level in self.levels:
            x = level(x)
            feats.append(x)
        return feats  # levels 1..6 (strides 2..64)


class _Decoder(nn.Module):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        cur = _decoder_in(level)
        if level < 6:
            self.upflow = nn.ConvTranspose2d(2, 2, kernel_size=4, stride=2, padding=1)
            self.upfeat = nn.ConvTranspose2d(_decoder_in(level + 1) + sum(_DENSE), 2, kernel_size=4, stride=2,
                                             padding=1)
            self.backwarp_scale = _BACKWARP[level]
        dense, width = [], cur
        for c in _DENSE:
            dense.append(nn.Sequential(nn.Conv2d(width, c, 3, padding=1), _lrelu()))
            width += c
        self.dense = nn.ModuleList(dense)
        self.predict = nn.Conv2d(width, 2, 3, padding=1)

    def forward(
        self, f1: torch.Tensor, f2: torch.Tensor, previous: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if previous is None:
            feat = nn.functional.leaky_relu(correlation(f1, f2, 4, 1), 0.1)
        else:
            flow = self.upflow(previous[0])
            up_feat = self.upfeat(previous[1])
            warped = backwarp(f2, flow * self.backwarp_scale, padding_mode="zeros", mask=True)
            volume = nn.functional.leaky_relu(correlation(f1, warped, 4, 1), 0.1)
            feat = torch.cat([volume, f1, flow, up_feat], 1)
        for block in self.dense:  # DenseNet-style: each output is prepended to the running features
            feat = torch.cat([block(feat), feat], 1)
        return self.predict(feat), feat


class PWCNet(DeepFlow):
    """PWC-Net flow backend (``"pwcnet"``); arguments as :class:`~vsodboost.flow._deep.DeepFlow`, with ``weights``
    one of :data:`PWCNET_VARIANTS`, a checkpoint path, or None (random)."""

    name = "pwcnet"
    size_multiple = 64
    min_size = 64
    variants = PWCNET_VARIANTS
    # Published key → our key. Decoders are named after their level (moduleTwo = level 2 = decoders.0); the
    # dense blocks moduleOne..moduleFiv are dense.0..4 and moduleSix is the flow predictor.
    rename_rules = [
        (r"moduleExtractor\.module(One|Two|Thr|Fou|Fiv|Six)\.(\d)\.(weight|bias)",
         lambda m: f"extractor.levels.{_ORDINALS.index(m[1])}.{m[2]}.{m[3]}"),
        (r"module(Two|Thr|Fou|Fiv|Six)\.module(Upflow|Upfeat)\.(weight|bias)",
         lambda m: f"decoders.{_ORDINALS.index(m[1]) - 1}.{m[2].lower()}.{m[3]}"),
        (r"module(Two|Thr|Fou|Fiv|Six)\.module(One|Two|Thr|Fou|Fiv)\.0\.(weight|bias)",
         lambda m: f"decoders.{_ORDINALS.index(m[1]) - 1}.dense.{_ORDINALS.index(m[2])}.0.{m[3]}"),
        (r"module(Two|Thr|Fou|Fiv|Six)\.moduleSix\.0\.(weight|bias)",
         lambda m: f"decoders.{_ORDINALS.index(m[1]) - 1}.predict.{m[2]}"),
        (r"moduleRefiner\.moduleMain\.(\d+)\.(weight|bias)", r"refiner.\1.\2"),
    ]

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, device: Any = None, batch_size: int = 4):
        super().__init__(batch_size=batch_size)
        self.extractor = _Extractor()
        self.decoders = nn.ModuleList([_Decoder(level) for level in range(2, 7)])  # index 0 = level 2
        chans = (_decoder_in(2) + sum(_DENSE), 128, 128, 128, 96, 64, 32, 2)
        dilations = (1, 2, 4, 8, 16, 1, 1)
        layers: list[nn.Module] = []
        for k in range(7):
            layers.append(nn.Conv2d(chans[k], chans[k + 1], 3, padding=dilations[k], dilation=dilations[k]))
            if k < 6:
                layers.append(_lrelu())
        self.refiner = nn.Sequential(*layers)
        if weights is not None:
            self.load_weights(weights)
        if device is not None:
            self.to(device)

    def prepare(self, x: torch.Tensor, position: int) -> torch.Tensor:
        return x.flip(1)  # RGB → BGR, [0, 1], no mean/std (as the Caffe model)

    def forward(self, one: torch.Tensor, two: torch.Tensor) -> torch.Tensor:
        """×20 flow at 1/4 of the input resolution, in pixels of the input (the raw network output)."""
        f1, f2 = self.extractor(one), self.extractor(two)
        est = None
        for level in range(6, 1, -1):
            est = self.decoders[level - 2](f1[level - 1], f2[level - 1], est)
        flow, feat = est
        return (flow + self.refiner(feat)) * 20.0
