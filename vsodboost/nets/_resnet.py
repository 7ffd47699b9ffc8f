"""Dilated ResNet stages with the parameter names of the 2018–2019 DeepLab-style reference code.

Both MGA and COSNet use torchvision-like names (``conv1``, ``bn1``, ``layerN.i.convK``, ``downsample.0/1``) but
differ in where the stride sits (3×3 conv in MGA, 1×1 conv in COSNet's Caffe-style blocks) and in which blocks of a
dilated stage are dilated (only the first in MGA, all in COSNet). Both choices change the output, so they are
arguments here rather than guesses.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Bottleneck", "BasicBlock", "make_stage"]


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, stride_in_1x1: bool = False) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=s3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, stride_in_1x1: bool = False) -> None:
        super().__init__()
        # The MGA flow encoder dilates only the first 3×3 conv of a block (its second is always dilation 1).
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def make_stage(block: type[Bottleneck] | type[BasicBlock], inplanes: int, planes: int, blocks: int, *,
               stride: int = 1, dilation: int = 1, dilate_all: bool = False, stride_in_1x1: bool = False,
               force_downsample: bool = False) -> nn.Sequential:
    """One ResNet stage. ``dilate_all``: every block dilated (COSNet) vs only the first (MGA)."""
    out = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out or force_downsample:
        downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    layers = [block(inplanes, planes, stride, dilation, downsample, stride_in_1x1)]
    for _ in range(1, blocks):
        layers.append(block(out, planes, 1, dilation if dilate_all else 1, None, stride_in_1x1))
    return nn.Sequential(*layers)

