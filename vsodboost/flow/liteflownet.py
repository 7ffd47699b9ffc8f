"""LiteFlowNet (Hui, Tang & Loy, "LiteFlowNet: A Lightweight Convolutional Neural Network for Optical Flow
Estimation", CVPR 2018) in pure PyTorch: the cost volume is :func:`~vsodboost.flow.correlation.correlation`, so it
runs on CPU and GPU without CuPy.

Follows the evaluation of the PyTorch port by S. Niklaus (github.com/sniklaus/pytorch-liteflownet), whose
published weights it loads: BGR in [0, 1] minus fixed per-channel means that differ for the first and the second
frame (the training-set means of the Caffe model); a 6-level feature encoder (32/32/64/96/128/192 channels); at
levels 6 → 2 a cascade of descriptor matching (49-channel cost volume, displacement 3, computed at stride 2 and
upsampled by a learned deconvolution at levels 2 and 3), sub-pixel refinement and feature-driven local
regularisation. Input resized to a multiple of 32; output at 1/2 resolution and ×20, in pixels of the
full-resolution input.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._weights import WeightSpec
from ._deep import DeepFlow, backwarp
from .correlation import correlation

__all__ = ["LiteFlowNet", "LITEFLOWNET_VARIANTS", "LITEFLOWNET_PUBLISHED_SHAPES"]

_URL = "http://content.sniklaus.com/github/pytorch-liteflownet/network-{}.pytorch"
_LICENSE = "research purposes only (twhui/LiteFlowNet#license-and-citation)"
_SRC = "sniklaus/pytorch-liteflownet (conversion of the authors' Caffe models)"

#: Published weights. sha256=None: the publisher gives no checksum and the files could not be fetched offline to
#: compute one, so a download is not verified.
LITEFLOWNET_VARIANTS = (
    WeightSpec("default", "liteflownet-default.pytorch", _URL.format("default"), None, _LICENSE, _SRC,
               "trained on FlyingChairs + FlyingThings3D (the port's default)"),
    WeightSpec("kitti", "liteflownet-kitti.pytorch", _URL.format("kitti"), None, _LICENSE, _SRC,
               "fine-tuned on KITTI"),
    WeightSpec("sintel", "liteflownet-sintel.pytorch", _URL.format("sintel"), None, _LICENSE, _SRC,
               "fine-tuned on MPI-Sintel"),
)

_ORDINALS = ("One", "Two", "Thr", "Fou", "Fiv", "Six")
_FEAT = (32, 32, 64, 96, 128, 192)  # encoder channels at strides 1, 2, 4, 8, 16, 32
_LEVELS = (2, 3, 4, 5, 6)  # levels with a flow decoder; level L works at stride 2^(L-1)
_KERNEL = {2: 7, 3: 5, 4: 5, 5: 3, 6: 3}  # flow-prediction kernel, also the regularisation window
_BACKWARP = {2: 10.0, 3: 5.0, 4: 2.5, 5: 1.25, 6: 0.625}  # ×20 flow → pixels at the level: 20 / 2^(L-1)
_MEAN_ONE = (0.411618, 0.434631, 0.454253)  # B, G, R
_MEAN_TWO = (0.410782, 0.433645, 0.452793)


def _feat_ch(level: int) -> int:
    """Descriptor channels used by matching / sub-pixel at ``level`` (level 2 lifts 32 → 64 with a 1×1 conv)."""
    return 64 if level == 2 else _FEAT[level - 1]


def _published_shapes() -> dict[str, tuple[int, ...]]:
    """The published checkpoint's keys (the port's historical 'module' names) → shapes; 5,381,969 parameters."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(key: str, cout: int, cin: int, kh: int, kw: int | None = None, bias: bool = True) -> None:
        shapes[f"{key}.weight"] = (cout, cin, kh, kh if kw is None else kw)
        if bias:
            shapes[f"{key}.bias"] = (cout,)

    enc = {0: (0,), 1: (0, 2, 4), 2: (0, 2), 3: (0, 2), 4: (0,), 5: (0,)}
    cin = 3
    for i, c in enumerate(_FEAT):
        for j in enc[i]:
            conv(f"moduleFeatures.module{_ORDINALS[i]}.{j}", c, cin if j == 0 else c, 7 if i == 0 else 3)
        cin = c
    for i, level in enumerate(_LEVELS):
        k = _KERNEL[level]
        m = f"moduleMatching.{i}"
        if level == 2:
            conv(f"{m}.moduleFeat.0", 64, 32, 1)
        if level < 6:
            shapes[f"{m}.moduleUpflow.weight"] = (2, 1, 4, 4)  # grouped ConvTranspose2d, no bias
        if level < 4:
            shapes[f"{m}.moduleUpcorr.weight"] = (49, 1, 4, 4)
        for j, (co, ci) in enumerate(((128, 49), (64, 128), (32, 64))):
            conv(f"{m}.moduleMain.{2 * j}", co, ci, 3)
        conv(f"{m}.moduleMain.6", 2, 32, k)
        s = f"moduleSubpixel.{i}"
        if level == 2:
            conv(f"{s}.moduleFeat.0", 64, 32, 1)
        for j, (co, ci) in enumerate(((128, 2 * _feat_ch(level) + 2), (64, 128), (32, 64))):
            conv(f"{s}.moduleMain.{2 * j}", co, ci, 3)
        conv(f"{s}.moduleMain.6", 2, 32, k)
        r = f"moduleRegularization.{i}"
        if level < 5:
            conv(f"{r}.moduleFeat.0", 128, _FEAT[level - 1], 1)
        rin = 3 + (128 if level < 5 else _FEAT[level - 1])
        for j, (co, ci) in enumerate(((128, rin), (128, 128), (64, 128), (64, 64), (32, 64), (32, 32))):
            conv(f"{r}.moduleMain.{2 * j}", co, ci, 3)
        d = k * k
        if level < 5:
            conv(f"{r}.moduleDist.0", d, 32, k, 1)
            conv(f"{r}.moduleDist.1", d, d, 1, k)
        else:
            conv(f"{r}.moduleDist.0", d, 32, k)
        conv(f"{r}.moduleScaleX", 1, d, 1)
        conv(f"{r}.moduleScaleY", 1, d, 1)
    return shapes


LITEFLOWNET_PUBLISHED_SHAPES = _published_shapes()


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(negative_slope=0.1, inplace=False)


def _head(cin: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, 128, 3, padding=1), _lrelu(),
        nn.Conv2d(128, 64, 3, padding=1), _lrelu(),
        nn.Conv2d(64, 32, 3, padding=1), _lrelu(),
        nn.Conv2d(32, 2, k, padding=k // 2),
    )


def _lift(level: int) -> nn.Module:
    # Only level 2 maps its 32-channel descriptors to 64 channels before matching and sub-pixel refinement.
    return nn.Sequential(nn.Conv2d(32, 64, 1), _lrelu()) if level == 2 else nn.Identity()


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        c = _FEAT
        self.levels = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, c[0], 7, padding=3), _lrelu()),
            nn.Sequential(nn.Conv2d(c[0], c[1], 3, 2, 1), _lrelu(), nn.Conv2d(c[1], c[1], 3, 1, 1), _lrelu(),
                          nn.Conv2d(c[1], c[1], 3, 1, 1), _lrelu()),
            nn.Sequential(nn.Conv2d(c[1], c[2], 3, 2, 1), _lrelu(), nn.Conv2d(c[2], c[2], 3, 1, 1), _lrelu()),
            nn.Sequential(nn.Conv2d(c[2], c[3], 3, 2, 1), _lrelu(), nn.Conv2d(c[3], c[3], 3, 1, 1), _lrelu()),
            nn.Sequential(nn.Conv2d(c[3], c[4], 3, 2, 1), _lrelu()),
            nn.Sequential(nn.Conv2d(c[4], c[5], 3, 2, 1), _lrelu()),
        ])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for level in self.levels:
            x = level(x)
            feats.append(x)
        return feats


class _Matching(nn.Module):
    """Descriptor matching (NetC): cost volume of frame-1 vs warped frame-2 descriptors → flow increment."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.feat = _lift(level)
        self.upflow = (nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, groups=2, bias=False)
                       if level < 6 else None)
        self.upcorr = (nn.ConvTranspose2d(49, 49, 4, stride=2, padding=1, groups=49, bias=False)
                       if level < 4 else None)
        self.main = _head(49, _KERNEL[level])

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
        f1, f2 = self.feat(f1), self.feat(f2)
        if flow is not None:
            assert self.upflow is not None
            flow = self.upflow(flow)
            f2 = backwarp(f2, flow * _BACKWARP[self.level])
        if self.upcorr is None:
            volume = F.leaky_relu(correlation(f1, f2, 3, 1), 0.1)
        else:  # fine levels: a sparser volume (stride 2), brought back to full density by a learned upsampling
            volume = self.upcorr(F.leaky_relu(correlation(f1, f2, 3, 2), 0.1))
        delta = self.main(volume)
        return delta if flow is None else flow + delta


class _Subpixel(nn.Module):
    """Sub-pixel refinement (NetS): descriptors of frame 1, warped frame 2 and the flow → flow increment."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.feat = _lift(level)
        self.main = _head(2 * _feat_ch(level) + 2, _KERNEL[level])

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        f1, f2 = self.feat(f1), self.feat(f2)
        f2 = backwarp(f2, flow * _BACKWARP[self.level])
        return flow + self.main(torch.cat([f1, f2, flow], 1))


class _Regularization(nn.Module):
    """Feature-driven local convolution (f-lcon): each output flow is a learned, per-pixel weighted average of the
    flow in a k×k window; the weights are a softmax of −(distance)² predicted from brightness error, flow and
    frame-1 features."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        k = self.k = _KERNEL[level]
        d = k * k
        feat_in = _FEAT[level - 1]
        self.feat = nn.Sequential(nn.Conv2d(feat_in, 128, 1), _lrelu()) if level < 5 else nn.Identity()
        rin = 3 + (128 if level < 5 else feat_in)
        chans = (rin, 128, 128, 64, 64, 32, 32)
        layers: list[nn.Module] = []
        for j in range(6):
            layers += [nn.Conv2d(chans[j], chans[j + 1], 3, padding=1), _lrelu()]
        self.main = nn.Sequential(*layers)
        if level < 5:  # separable k×1 then 1×k at the finer levels
            self.dist = nn.Sequential(nn.Conv2d(32, d, (k, 1), padding=(k // 2, 0)),
                                      nn.Conv2d(d, d, (1, k), padding=(0, k // 2)))
        else:
            self.dist = nn.Sequential(nn.Conv2d(32, d, k, padding=k // 2))
        self.scale_x = nn.Conv2d(d, 1, 1)
        self.scale_y = nn.Conv2d(d, 1, 1)

    def forward(self, img1: torch.Tensor, img2: torch.Tensor, f1: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        error = (img1 - backwarp(img2, flow * _BACKWARP[self.level])).square().sum(1, keepdim=True).sqrt().detach()
        dist = self.dist(self.main(torch.cat([error, flow - flow.mean((2, 3), keepdim=True), self.feat(f1)], 1)))
        dist = dist.square().neg()
        dist = (dist - dist.amax(1, keepdim=True)).exp()  # numerically stable softmax numerator
        norm = dist.sum(1, keepdim=True).reciprocal()
        pad = self.k // 2
        win_x = F.unfold(flow[:, 0:1], self.k, padding=pad).view_as(dist)
        win_y = F.unfold(flow[:, 1:2], self.k, padding=pad).view_as(dist)
        return torch.cat([self.scale_x(dist * win_x) * norm, self.scale_y(dist * win_y) * norm], 1)


_PARTS = {"Feat": "feat", "Upflow": "upflow", "Upcorr": "upcorr", "Main": "main", "Dist": "dist",
          "ScaleX": "scale_x", "ScaleY": "scale_y"}


class LiteFlowNet(DeepFlow):
    """LiteFlowNet flow backend (``"liteflownet"``); arguments as :class:`~vsodboost.flow._deep.DeepFlow`, with
    ``weights`` one of :data:`LITEFLOWNET_VARIANTS`, a checkpoint path, or None (random)."""

    name = "liteflownet"
    size_multiple = 32
    min_size = 32
    variants = LITEFLOWNET_VARIANTS
    # Published key → our key: moduleFeatures.moduleOne..Six → encoder.levels.0..5; the per-level modules keep
    # their list index (0 = level 2) and their parts are renamed (moduleScaleX → scale_x, ...).
    rename_rules = [
        (r"moduleFeatures\.module(One|Two|Thr|Fou|Fiv|Six)\.(\d)\.(weight|bias)",
         lambda m: f"encoder.levels.{_ORDINALS.index(m[1])}.{m[2]}.{m[3]}"),
        (r"module(Matching|Subpixel|Regularization)\.(\d)\.module(Feat|Upflow|Upcorr|Main|Dist|ScaleX|ScaleY)"
         r"((?:\.\d+)?\.(?:weight|bias))",
         lambda m: f"{m[1].lower()}.{m[2]}.{_PARTS[m[3]]}{m[4]}"),
    ]

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, device: Any = None, batch_size: int = 4):
        super().__init__(batch_size=batch_size)
        self.encoder = _Encoder()
        self.matching = nn.ModuleList([_Matching(level) for level in _LEVELS])
        self.subpixel = nn.ModuleList([_Subpixel(level) for level in _LEVELS])
        self.regularization = nn.ModuleList([_Regularization(level) for level in _LEVELS])
        self.register_buffer("_mean_one", torch.tensor(_MEAN_ONE).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_mean_two", torch.tensor(_MEAN_TWO).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            self.load_weights(weights)
        if device is not None:
            self.to(device)

    def prepare(self, x: torch.Tensor, position: int) -> torch.Tensor:
        # RGB → BGR, then the fixed means of the first or the second frame.
        return x.flip(1) - (self._mean_one if position == 0 else self._mean_two)

    def forward(self, one: torch.Tensor, two: torch.Tensor) -> torch.Tensor:
        """×20 flow at 1/2 of the input resolution, in pixels of the input (the raw network output)."""
        f1, f2 = self.encoder(one), self.encoder(two)
        imgs1, imgs2 = [one], [two]
        for f in f1[1:]:
            size = f.shape[-2:]
            imgs1.append(F.interpolate(imgs1[-1], size=size, mode="bilinear", align_corners=False))
            imgs2.append(F.interpolate(imgs2[-1], size=size, mode="bilinear", align_corners=False))
        flow: torch.Tensor | None = None
        for i in range(len(_LEVELS) - 1, -1, -1):  # level 6 (i = 4, stride 32) → level 2 (i = 0, stride 2)
            s = i + 1  # index of the level's features / images
            flow = self.matching[i](f1[s], f2[s], flow)
            flow = self.subpixel[i](f1[s], f2[s], flow)
            flow = self.regularization[i](imgs1[s], imgs2[s], f1[s], flow)
        assert flow is not None
        return flow * 20.0
