"""The shared saliency U-Net (paper Fig. 6): encoder → MSDA on the last three stages → U-Net decoder → map
(+ optional high-quality classification head).

Used twice: as the MQPM on colour-coded flow images (``cls_head=True``) and as the spatial model on RGB frames
("a completely new model identical to the localization branch", Sec. V-C; ``cls_head=False``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .encoders import create_encoder, encoder_spec, load_imagenet_weights

__all__ = ["UNetConfig", "MSDA", "SaliencyUNet", "saliency_unet"]


@dataclass
class UNetConfig:
    """Everything needed to rebuild a :class:`SaliencyUNet` (stored in every checkpoint)."""

    encoder: str = "tf_efficientnet_lite0"
    cls_head: bool = False
    decoder_channels: tuple[int, ...] = (128, 64, 48, 32)  # strides 16, 8, 4, 2
    msda_channels: tuple[int, int, int] = (64, 96, 128)  # MSDA outputs for strides 8, 16, 32
    dilations: tuple[int, ...] = (2, 4, 6, 8)
    input_size: tuple[int, int] = (256, 256)  # (H, W) used by predictors; forward accepts any multiple of 32
    mean: tuple[float, float, float] = field(default=())  # type: ignore[assignment]
    std: tuple[float, float, float] = field(default=())  # type: ignore[assignment]

    def __post_init__(self) -> None:
        spec = encoder_spec(self.encoder)
        if not self.mean:
            self.mean = spec.mean
        if not self.std:
            self.std = spec.std
        self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        self.msda_channels = tuple(int(c) for c in self.msda_channels)  # type: ignore[assignment]
        self.dilations = tuple(int(d) for d in self.dilations)
        self.input_size = tuple(int(s) for s in self.input_size)  # type: ignore[assignment]
        self.mean = tuple(float(m) for m in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(s) for s in self.std)  # type: ignore[assignment]
        if len(self.decoder_channels) != 4 or len(self.msda_channels) != 3:
            raise InputError(f"decoder_channels needs 4 values and msda_channels 3; got {self.decoder_channels}, "
                             f"{self.msda_channels}")

    def to_dict(self) -> dict[str, Any]:
        # plain lists/ints/strs: checkpoints must load with torch.load(weights_only=True)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "UNetConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown U-Net config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _cbr(cin: int, cout: int, k: int = 3, dilation: int = 1, stride: int = 1) -> nn.Sequential:
    pad = dilation * (k - 1) // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class MSDA(nn.Module):
    """Multi-scale dilated attention (Fig. 6): parallel 3×3 convs with dilations (2, 4, 6, 8) see the stage at
    several receptive fields; their concatenation is re-weighted by a channel attention (which scales matter) and
    a spatial attention (where), and added to a 1×1 projection of the input (a residual keeps the stage's own
    features when the attention is uninformative early in training)."""

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...] = (2, 4, 6, 8)) -> None:
        super().__init__()
        if cout % len(dilations):
            raise InputError(f"MSDA channels {cout} must be divisible by the number of dilations {len(dilations)}")
        branch = cout // len(dilations)
        self.proj = _cbr(cin, cout, k=1)
        self.branches = nn.ModuleList([_cbr(cout, branch, 3, dilation=d) for d in dilations])
        self.channel_att = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cout, max(cout // 4, 8), 1),
                                         nn.ReLU(inplace=True), nn.Conv2d(max(cout // 4, 8), cout, 1))
        self.spatial_att = nn.Conv2d(cout, 1, 7, padding=3)
        self.fuse = _cbr(cout, cout, k=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.proj(x)
        ms = torch.cat([b(p) for b in self.branches], dim=1)
        att = torch.sigmoid(self.channel_att(ms)) * torch.sigmoid(self.spatial_att(ms))
        return self.fuse(p + ms * att)


class _UpBlock(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_cbr(cin + cskip, cout), _cbr(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class _ClsHead(nn.Module):
    """High-quality classifier on the last decoder layer (Fig. 6): a strided conv, then average- and max-pooled
    descriptors (max pooling lets a small, sharply moving object count) → one logit."""

    def __init__(self, cin: int, hidden: int = 64) -> None:
        super().__init__()
        self.conv = nn.Sequential(_cbr(cin + 1, hidden, stride=2), _cbr(hidden, hidden, stride=2))
        self.fc = nn.Linear(2 * hidden, 1)

    def forward(self, feat: torch.Tensor, map_logits: torch.Tensor) -> torch.Tensor:
        # the predicted map is given as an extra channel: a frame is HQ when the flow outlines an object
        h = self.conv(torch.cat([feat, torch.sigmoid(map_logits)], dim=1))
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.fc(pooled).squeeze(1)


class SaliencyUNet(nn.Module):
    """Encoder + MSDA (last three stages) + U-Net decoder → saliency logits (B,1,H,W) at input resolution;
    with ``cls_head`` also the high-quality logit (B,).

    ``forward`` takes float RGB in [0, 1] (B,3,H,W), H and W multiples of 32, and normalises it with the config's
    mean/std (the encoder's ImageNet convention; Lite0: 0.5/0.5).
    """

    def __init__(self, config: UNetConfig | None = None, *, pretrained: bool = False,
                 encoder_weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.config = config = config or UNetConfig()
        self.encoder = create_encoder(config.encoder)
        self.encoder_weights_file: Path | None = None
        if pretrained:
            self.encoder_weights_file = load_imagenet_weights(self.encoder, config.encoder, encoder_weights)
        chans = list(self.encoder.feature_info.channels())
        if len(chans) != 5:
            raise InputError(f"encoder {config.encoder} yields {len(chans)} stages; the U-Net needs 5")
        self.msda = nn.ModuleList([MSDA(c, o, config.dilations) for c, o in zip(chans[2:], config.msda_channels)])
        d16, d8, d4, d2 = config.decoder_channels
        m8, m16, m32 = config.msda_channels
        self.up16 = _UpBlock(m32, m16, d16)
        self.up8 = _UpBlock(d16, m8, d8)
        self.up4 = _UpBlock(d8, chans[1], d4)
        self.up2 = _UpBlock(d4, chans[0], d2)
        self.head = nn.Conv2d(d2, 1, 3, padding=1)
        self.cls = _ClsHead(d2) if config.cls_head else None
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise InputError(f"SaliencyUNet expects float RGB (B,3,H,W) in [0,1]; got shape {tuple(x.shape)}")
        if x.shape[-2] % 32 or x.shape[-1] % 32:
            raise InputError(f"SaliencyUNet needs H and W multiples of 32; got {tuple(x.shape[-2:])}: resize first")
        size = x.shape[-2:]
        f2, f4, f8, f16, f32 = self.encoder((x - self.mean) / self.std)
        a8, a16, a32 = (m(f) for m, f in zip(self.msda, (f8, f16, f32)))
        d = self.up16(a32, a16)
        d = self.up8(d, a8)
        d = self.up4(d, f4)
        d = self.up2(d, f2)
        logits2 = self.head(d)
        logits = F.interpolate(logits2, size=size, mode="bilinear", align_corners=False)
        if self.cls is None:
            return logits
        return logits, self.cls(d, logits2)


def saliency_unet(encoder: str = "tf_efficientnet_lite0", *, pretrained: bool = True, cls_head: bool = False,
                  **config: Any) -> SaliencyUNet:
    """Build the shared U-Net; ``pretrained`` loads the encoder's ImageNet weights (Lite0: bundled, offline)."""
    return SaliencyUNet(UNetConfig(encoder=encoder, cls_head=cls_head, **config), pretrained=pretrained)
