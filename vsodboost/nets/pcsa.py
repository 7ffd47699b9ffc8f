"""PCSA (Gu et al., "Pyramid Constrained Self-Attention Network for Fast Video Salient Object Detection", AAAI 2020).

Architecture (paper + the authors' release, re-implemented here in pure PyTorch):

- MobileNetV3-Large features with the strides of the 40- and 160-channel stages set to 1 (output stride 8, no
  final 1×1 stage): low level = the first four modules (24 ch, stride 4), high level = the rest (160 ch, stride 8);
- LightRFB on the high level: SE → 1×1 reduce to 128 → four depthwise-separable branches with dilations 1, 3, 5, 7
  → concat with the input → 1×1 to 32 channels;
- the temporal module on the T frames of a clip: 4 heads (d_k = d_v = 8), head h attends, for every pixel, to a
  (2r+1)² window of every frame of the clip with (radius, dilation) = (3, 1), (3, 2), (4, 1), (4, 2); scores
  scaled by 1/√8, softmax over the T·(2r+1)² positions; a 1×1×1 output projection and a residual;
- the decoder: a dilated parallel block lifts the high level, a 1×1 conv the low level, PReLU, a 3×3 refine, a 1×1
  classifier, bilinear to input size, sigmoid.

The authors' CUDA op writes a score of 0 for window positions outside the image (it pre-fills −inf but every
position is then overwritten) and skips them in the weighted sum: exactly a zero-padded ``F.unfold`` of keys and
values, which is what :func:`pcsa_attention` does.
"""

from __future__ import annotations

import math
import os
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._weights import WeightSpec
from ..errors import InputError
from ._common import LiveNet, check_video, frames_to_tensor, resize

__all__ = ["PCSANet", "PCSALive", "PCSA_WEIGHTS", "pcsa_attention", "clip_windows", "PCSA_SIZE",
           "PCSA_TRAIN_MEAN", "PCSA_TRAIN_STD", "NORMALIZATIONS"]

PCSA_SIZE = (256, 448)  # (H, W) as trained
PCSA_CLIP = 5
# Statistics of DUTS-TR + MSRA10K shipped with the release (``Data/['DUTS-TR']_statistics.pth``).
PCSA_TRAIN_MEAN = (0.4732661, 0.44874457, 0.3948762)
PCSA_TRAIN_STD = (0.22674961, 0.22012031, 0.2238305)
NORMALIZATIONS = ("trained", "raw", "meanstd")

PCSA_WEIGHTS = WeightSpec(
    name="pcsa",
    filename="PCSA_checkpoint.pth",
    url=None,  # Google Drive folder / Baidu only: not a direct, checkable download
    sha256=None,
    license="CC BY-NC 3.0 (non-commercial; github.com/guyuchao/PyramidCSA)",
    source="https://github.com/guyuchao/PyramidCSA (Google Drive folder "
    "https://drive.google.com/drive/folders/1Xe2Eob173M6e6dcapThrOD0rmnuDA2MN ; Baidu "
    "https://pan.baidu.com/s/1bktiBwBUprIpfstK9fDehg code t781); save the model file under this name",
    description="PCSA fine-tuned on DAVIS + DAVSOD; {'net': state_dict, 'optimizer': ..., 'sche': ...}",
    meta={"size": PCSA_SIZE, "clip": PCSA_CLIP, "normalization": "trained"},
)

# MobileNetV3-Large rows: kernel, expansion, out channels, SE, h-swish, stride (stride 1 where the release made it 1).
_MBV3 = (
    (3, 16, 16, 0, 0, 1), (3, 64, 24, 0, 0, 2), (3, 72, 24, 0, 0, 1),
    (5, 72, 40, 1, 0, 1), (5, 120, 40, 1, 0, 1), (5, 120, 40, 1, 0, 1),
    (3, 240, 80, 0, 1, 2), (3, 200, 80, 0, 1, 1), (3, 184, 80, 0, 1, 1), (3, 184, 80, 0, 1, 1),
    (3, 480, 112, 1, 1, 1), (3, 672, 112, 1, 1, 1),
    (5, 672, 160, 1, 1, 1), (5, 672, 160, 1, 1, 1), (5, 960, 160, 1, 1, 1),
)


class _HSigmoid(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(x + 3) / 6


class _HSwish(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * F.relu6(x + 3) / 6


class _SE(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(c, c // 4), nn.ReLU(inplace=True), nn.Linear(c // 4, c), _HSigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int, k: int, stride: int, se: bool, hs: bool) -> None:
        super().__init__()
        self.identity = stride == 1 and cin == cout
        act = _HSwish if hs else (lambda: nn.ReLU(inplace=True))
        dw = nn.Conv2d(hidden, hidden, k, stride, (k - 1) // 2, groups=hidden, bias=False)
        maybe_se = _SE(hidden) if se else nn.Sequential()  # empty Sequential keeps the checkpoint's indices
        if cin == hidden:  # no expansion conv; SE after the activation
            layers = [dw, nn.BatchNorm2d(hidden), act(), maybe_se]
        else:  # expansion conv; SE before the activation
            layers = [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act(),
                      dw, nn.BatchNorm2d(hidden), maybe_se, act()]
        layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.identity else self.conv(x)


class _MobileNetV3(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), _HSwish())]
        cin = 16
        for k, hidden, cout, se, hs, s in _MBV3:
            layers.append(_InvertedResidual(cin, hidden, cout, k, s, bool(se), bool(hs)))
            cin = cout
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        low = self.features[:4](x)
        return low, self.features[4:](low)


class _BasicConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, *, dilation: int = 1, groups: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=dilation * (k - 1) // 2, dilation=dilation, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(cout, momentum=0.01)
        self.relu = nn.PReLU() if relu else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return self.relu(x) if self.relu is not None else x


class _LightRFB(nn.Module):
    def __init__(self, cin: int = 160, mid: int = 128, cout: int = 32) -> None:
        super().__init__()
        self.global_se = _SE(cin)
        self.reduce = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.PReLU(mid))
        self.br0 = nn.Sequential(_BasicConv(mid, mid, 1), _BasicConv(mid, mid, 3, groups=mid, relu=False))
        for i, (k, d) in enumerate(((3, 3), (5, 5), (7, 7)), start=1):
            setattr(self, f"br{i}", nn.Sequential(
                _BasicConv(mid, mid, k, groups=mid, relu=False),
                _BasicConv(mid, mid, 1),
                _BasicConv(mid, mid, 3, dilation=d, groups=mid, relu=False),
            ))
        self.point_global = _BasicConv(mid * 4 + cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        r = self.reduce(self.global_se(x))
        return self.point_global(torch.cat([x, self.br0(r), self.br1(r), self.br2(r), self.br3(r)], dim=1))


def pcsa_attention(q: Tensor, k: Tensor, v: Tensor, radius: int, dilation: int, scale: float) -> Tensor:
    """Constrained self-attention over a clip: ``(B, T, C, H, W)`` → ``(B, T, C, H, W)``.

    Pixel (t, y, x) attends to positions (s, y + i·dilation, x + j·dilation), |i|, |j| ≤ radius, for every frame s
    of the clip; positions outside the frame score 0 and carry zero values (the reference CUDA op's behaviour).
    """
    b, t, c, h, w = q.shape
    ks = 2 * radius + 1
    pad = radius * dilation

    def windows(x: Tensor) -> Tensor:  # (B, T, C, H, W) → (B, T, C, ks², H, W)
        cols = F.unfold(x.reshape(b * t, c, h, w), ks, dilation=dilation, padding=pad)
        return cols.view(b, t, c, ks * ks, h, w)

    kw = windows(k)
    energy = torch.einsum("btchw,bsckhw->btskhw", q, kw) * scale
    attn = energy.reshape(b, t, t * ks * ks, h, w).softmax(dim=2).view(b, t, t, ks * ks, h, w)
    return torch.einsum("btskhw,bsckhw->btchw", attn, windows(v))


class _TemporalModule(nn.Module):
    """Pyramid constrained self-attention with the release's names (``query_conv``...)."""

    HEADS = ((3, 1), (3, 2), (4, 1), (4, 2))  # (radius, dilation) per head

    def __init__(self, c: int = 32, n_head: int = 4, d_k: int = 8, d_v: int = 8) -> None:
        super().__init__()
        self.n_head, self.d_k = n_head, d_k
        self.query_conv = nn.Conv3d(c, n_head * d_k, 1, bias=False)
        self.key_conv = nn.Conv3d(c, n_head * d_k, 1, bias=False)
        self.value_conv = nn.Conv3d(c, n_head * d_v, 1, bias=False)
        self.output_Linear = nn.Conv3d(c, c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C, H, W)
        xc = x.transpose(1, 2)  # Conv3d wants (B, C, T, H, W)
        q, k, v = (conv(xc).transpose(1, 2) for conv in (self.query_conv, self.key_conv, self.value_conv))
        heads = [
            pcsa_attention(qh, kh, vh, r, d, 1.0 / math.sqrt(8))  # the release scales by √8 (its d_k)
            for (r, d), qh, kh, vh in zip(self.HEADS, q.chunk(self.n_head, 2), k.chunk(self.n_head, 2),
                                          v.chunk(self.n_head, 2))
        ]
        out = self.output_Linear(torch.cat(heads, dim=2).transpose(1, 2)).transpose(1, 2)
        return out + x


class _DilatedParallel(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        n = (cout + 1) // 2
        self.conv0 = nn.Conv2d(cin, cout, 1, bias=False)
        self.conv1 = nn.Conv2d(n, n, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout - n, cout - n, 3, padding=2, dilation=2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv0(x).chunk(2, dim=1)
        return self.bn(torch.cat([self.conv1(a), self.conv2(b)], dim=1))


class _Combine(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up2_high = _DilatedParallel(32, 16)
        self.up2_low = nn.Conv2d(24, 16, 1, bias=False)
        self.up2_bn2 = nn.BatchNorm2d(16)
        self.up2_act = nn.PReLU(16)
        self.refine = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.PReLU())

    def forward(self, low: Tensor, high: Tensor) -> Tensor:
        return self.refine(self.up2_act(self.up2_high(high) + self.up2_bn2(self.up2_low(low))))


class PCSANet(nn.Module):
    """The PCSA network with the release's parameter names.

    ``forward(x)``: ``(B, T, 3, H, W)`` clip (H, W multiples of 8) → saliency probabilities ``(B, T, 1, H, W)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.feature_extractor = _MobileNetV3()
        self.dilation_conv_group = _LightRFB()
        self.combine = _Combine()
        self.SegNIN = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(16, 1, 1, bias=False))
        self.temporal_high = _TemporalModule(32)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 5 or x.shape[2] != 3:
            raise InputError(f"PCSANet expects a clip (B, T, 3, H, W); got shape {tuple(x.shape)}")
        b, t, _, h, w = x.shape
        low, high = self.feature_extractor(x.flatten(0, 1))
        high = self.dilation_conv_group(high)
        high = self.temporal_high(high.view(b, t, *high.shape[1:])).flatten(0, 1)
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        out = self.SegNIN(self.combine(low, high))
        out = torch.sigmoid(F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False))
        return out.view(b, t, 1, h, w)


def clip_windows(n: int, clip: int = PCSA_CLIP) -> list[tuple[int, int, int]]:
    """Cover ``n`` frames with clips: ``(start, stop, keep_from)`` — run frames ``start..stop-1``, keep the maps of
    ``keep_from..stop-1``.

    Non-overlapping clips of ``clip`` frames; the tail clip is the last ``clip`` frames (so every clip is full and
    each frame is predicted once); a video shorter than a clip is one clip of all its frames (the attention then
    spans fewer frames; nothing is padded or repeated).
    """
    if n < 1 or clip < 1:
        raise InputError(f"clip_windows: n={n}, clip={clip}; both must be >= 1")
    if n <= clip:
        return [(0, n, 0)]
    out = [(s, s + clip, s) for s in range(0, n - clip + 1, clip)]
    done = out[-1][1]
    if done < n:
        out.append((n - clip, n, done))
    return out


class PCSALive(LiveNet):
    """Run PCSA over a whole video in clips of T = 5 frames at 256×448, maps back at frame size.

    Args:
        weights: path to the released checkpoint (``{"net": ...}`` with optimizer state); ``None`` looks in the
            cache (``$VSODBOOST_HOME/nets/PCSA_checkpoint.pth``) and raises a clear error when absent.
        normalization: ``"trained"`` (default) reproduces what the released weights saw in training: raw RGB in
            [0, 1], except that the pixel columns 0, 1, 2 of all channels get ``(x − mean[i]) / std[i]`` (the
            release's ``Normalize`` indexed a ``(C, H, W)`` tensor as ``[:, :, i]``); ``"raw"`` is [0, 1] only;
            ``"meanstd"`` is the intended per-channel normalisation, which the weights were *not* trained with.
        clip: frames per clip (5 as trained).
        batch_size: clips per forward pass.
        size: network input ``(H, W)``, multiples of 8 (256×448 as trained; smaller only for fast tests).
    """

    name = "pcsa"

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, device: str | torch.device = "cpu",
                 random_init: bool = False, batch_size: int = 2, clip: int = PCSA_CLIP,
                 normalization: Literal["trained", "raw", "meanstd"] = "trained",
                 size: tuple[int, int] = PCSA_SIZE) -> None:
        if normalization not in NORMALIZATIONS:
            raise InputError(f"pcsa: normalization={normalization!r}; expected one of {NORMALIZATIONS}")
        if not isinstance(clip, int) or clip < 1:
            raise InputError(f"pcsa: clip={clip!r}; expected an int >= 1 (5 as trained)")
        if len(size) != 2 or any(not isinstance(s, int) or s < 8 or s % 8 for s in size):
            raise InputError(f"pcsa: size={size!r}; expected (H, W), multiples of 8 (256, 448 as trained)")
        super().__init__(PCSANet(), PCSA_WEIGHTS, weights, device=device, random_init=random_init,
                         batch_size=batch_size, containers=("net", "state_dict", "model"))
        self.clip, self.normalization, self.size = clip, normalization, tuple(size)
        self._mean = torch.tensor(PCSA_TRAIN_MEAN, device=self.device)
        self._std = torch.tensor(PCSA_TRAIN_STD, device=self.device)

    def normalize(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` in 0–255 → network input, per :attr:`normalization`."""
        x = x / 255.0
        if self.normalization == "meanstd":
            return (x - self._mean.view(1, 3, 1, 1)) / self._std.view(1, 3, 1, 1)
        if self.normalization == "trained":
            x = x.clone()
            for i in range(3):  # column i, all channels, statistic of channel i: the release's indexing slip
                x[:, :, :, i] = (x[:, :, :, i] - self._mean[i]) / self._std[i]
        return x

    @torch.no_grad()
    def predict_video(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One float32 map in [0, 1] per frame, at frame size."""
        frames = check_video(frames, who="pcsa")
        h, w = frames[0].shape[:2]
        wins = clip_windows(len(frames), self.clip)
        maps: list[np.ndarray] = []
        # Clips of equal length batch together; only a video shorter than a clip has a shorter one (alone).
        for i in range(0, len(wins), self.batch_size):
            group = wins[i : i + self.batch_size]
            x = torch.stack([
                self.normalize(resize(frames_to_tensor(frames[s:e], self.device), self.size)) for s, e, _ in group
            ])
            prob = self.net(x)
            for (s, e, keep), p in zip(group, prob):
                p = F.interpolate(p[keep - s :], size=(h, w), mode="bilinear", align_corners=False)
                maps.extend(m[0].clamp(0, 1).cpu().numpy() for m in p)
        return maps
