"""U²-Net and U²-Net-p (Qin et al., "U²-Net: Going Deeper with Nested U-Structure for Salient Object Detection",
Pattern Recognition 2020), our PyTorch implementation, used as a DUTS-trained spatial saliency model.

The network is a two-level nested U: six encoder stages and five decoder stages, each a *residual U-block* (RSU-L,
a small U-Net of depth L whose output is added to its input projection), plus a 3×3 side convolution on every
decoder stage (and the last encoder stage) whose maps are upsampled to the input size and fused by a 1×1
convolution. Training supervises the fused map and the six side maps ("deep supervision").

Parameter names follow the authors' release (``stage1.rebnconvin.conv_s1.weight``, ``side1.weight``,
``outconv.weight``), so a checkpoint of theirs loads strictly by name. Batch normalisation is *folded* into the
convolutions (each ``REBNCONV`` is conv + bias + ReLU): the weights we ship come from a BN-folded ONNX export, and
:func:`fold_batchnorm` folds the authors' ``bn_s1`` tensors the same way, so one module serves both. Without BN the
model fine-tunes on a handful of frames with no batch-statistics issue.

>>> net = u2netp()                     # random init; vsodboost.spatial builds it with the shipped DUTS weights
>>> fused, sides = net(torch.rand(1, 3, 320, 320))      # logits: (1,1,320,320) and 6 × (1,1,320,320)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError

__all__ = ["U2NetConfig", "U2Net", "u2netp", "u2net", "fold_batchnorm", "save_u2net", "load_u2net", "U2NET_FORMAT",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class REBNCONV(nn.Module):
    """3×3 convolution (dilation ``d``, BN folded into its bias) + ReLU."""

    def __init__(self, cin: int, cout: int, d: int = 1) -> None:
        super().__init__()
        self.conv_s1 = nn.Conv2d(cin, cout, 3, padding=d, dilation=d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv_s1(x))


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def _pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 2, 2, ceil_mode=True)


class RSU(nn.Module):
    """Residual U-block RSU-L (L = ``depth``): ``rebnconvin`` projects to ``cout``; an encoder of ``depth − 1``
    conv levels (max-pool between them) and one dilated (×2) bottom conv; a decoder of ``depth − 1`` levels
    (``rebnconv{k}d``) on concatenated skips; output = decoder output + projection."""

    def __init__(self, depth: int, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.depth = depth
        self.rebnconvin = REBNCONV(cin, cout)
        self.rebnconv1 = REBNCONV(cout, mid)
        for k in range(2, depth):
            setattr(self, f"rebnconv{k}", REBNCONV(mid, mid))
        setattr(self, f"rebnconv{depth}", REBNCONV(mid, mid, d=2))
        for k in range(depth - 1, 1, -1):
            setattr(self, f"rebnconv{k}d", REBNCONV(2 * mid, mid))
        self.rebnconv1d = REBNCONV(2 * mid, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        enc = [self.rebnconv1(hxin)]
        for k in range(2, self.depth):
            enc.append(getattr(self, f"rebnconv{k}")(_pool(enc[-1])))
        hx = getattr(self, f"rebnconv{self.depth}")(enc[-1])
        for k in range(self.depth - 1, 0, -1):
            hx = getattr(self, f"rebnconv{k}d")(torch.cat([hx, enc[k - 1]], 1))
            if k > 1:
                hx = _up(hx, enc[k - 2])
        return hx + hxin


class RSU4F(nn.Module):
    """RSU-4F: the RSU-4 shape with dilations 1, 2, 4, 8 instead of pooling (full resolution throughout)."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.rebnconvin = REBNCONV(cin, cout)
        self.rebnconv1 = REBNCONV(cout, mid)
        self.rebnconv2 = REBNCONV(mid, mid, d=2)
        self.rebnconv3 = REBNCONV(mid, mid, d=4)
        self.rebnconv4 = REBNCONV(mid, mid, d=8)
        self.rebnconv3d = REBNCONV(2 * mid, mid, d=4)
        self.rebnconv2d = REBNCONV(2 * mid, mid, d=2)
        self.rebnconv1d = REBNCONV(2 * mid, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        hx1 = self.rebnconv1(hxin)
        hx2 = self.rebnconv2(hx1)
        hx3 = self.rebnconv3(hx2)
        hx4 = self.rebnconv4(hx3)
        hx3d = self.rebnconv3d(torch.cat([hx4, hx3], 1))
        hx2d = self.rebnconv2d(torch.cat([hx3d, hx2], 1))
        return self.rebnconv1d(torch.cat([hx2d, hx1], 1)) + hxin


@dataclass(frozen=True)
class U2NetConfig:
    """Width of a U²-Net: ``u2netp`` (mid 16, out 64 everywhere; 1.13 M parameters) or ``u2net`` (44 M)."""

    variant: str = "u2netp"
    input_size: int = 320  # the authors' training and inference size
    normalize: str = "max"  # "max": divide each image by its max before mean/std (rembg's export); "none": as given

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "U2NetConfig":
        return cls(**dict(d))


# (block, depth or None for RSU-4F, in, mid, out) per stage, encoder then decoder
_STAGES = {
    "u2netp": {
        "stage1": (7, 3, 16, 64), "stage2": (6, 64, 16, 64), "stage3": (5, 64, 16, 64), "stage4": (4, 64, 16, 64),
        "stage5": (None, 64, 16, 64), "stage6": (None, 64, 16, 64),
        "stage5d": (None, 128, 16, 64), "stage4d": (4, 128, 16, 64), "stage3d": (5, 128, 16, 64),
        "stage2d": (6, 128, 16, 64), "stage1d": (7, 128, 16, 64),
    },
    "u2net": {
        "stage1": (7, 3, 32, 64), "stage2": (6, 64, 32, 128), "stage3": (5, 128, 64, 256),
        "stage4": (4, 256, 128, 512), "stage5": (None, 512, 256, 512), "stage6": (None, 512, 256, 512),
        "stage5d": (None, 1024, 256, 512), "stage4d": (4, 1024, 128, 256), "stage3d": (5, 512, 64, 128),
        "stage2d": (6, 256, 32, 64), "stage1d": (7, 128, 16, 64),
    },
}


class U2Net(nn.Module):
    """U²-Net(-p). Input: float RGB in [0, 1], (B,3,H,W), any size (the authors use 320²). Output: the fused logits
    (B,1,H,W) and, in training mode or with ``sides=True``, the six side logits (side 1 = finest) at input size.

    Preprocessing is inside the model: with ``normalize="max"`` each image is divided by its maximum (as the rembg
    ONNX export was run), then ImageNet mean/std.
    """

    def __init__(self, config: U2NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or U2NetConfig()
        if self.config.variant not in _STAGES:
            raise ValueError(f"unknown U²-Net variant {self.config.variant!r}; choose from {sorted(_STAGES)}")
        if self.config.normalize not in ("max", "none"):
            raise ValueError(f"normalize must be 'max' or 'none', got {self.config.normalize!r}")
        stages = _STAGES[self.config.variant]
        for name, (depth, cin, mid, cout) in stages.items():
            setattr(self, name, RSU4F(cin, mid, cout) if depth is None else RSU(depth, cin, mid, cout))
        widths = [stages[s][3] for s in ("stage1d", "stage2d", "stage3d", "stage4d", "stage5d", "stage6")]
        for i, c in enumerate(widths, 1):
            setattr(self, f"side{i}", nn.Conv2d(c, 1, 3, padding=1))
        self.outconv = nn.Conv2d(6, 1, 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.normalize == "max":
            x = x / x.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor, sides: bool | None = None) -> Any:
        hx = self.preprocess(x)
        enc = []
        for k in range(1, 7):
            hx = getattr(self, f"stage{k}")(hx if k == 1 else _pool(enc[-1]))
            enc.append(hx)
        dec = {6: enc[5]}
        hx = enc[5]
        for k in range(5, 0, -1):
            hx = getattr(self, f"stage{k}d")(torch.cat([_up(hx, enc[k - 1]), enc[k - 1]], 1))
            dec[k] = hx
        side = [getattr(self, f"side{k}")(dec[k]) for k in range(1, 7)]
        side = [side[0]] + [_up(s, side[0]) for s in side[1:]]
        fused = self.outconv(torch.cat(side, 1))
        if sides if sides is not None else self.training:
            return fused, side
        return fused

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        """Decoder stages, side convolutions and the fusion conv (``train_layers="decoder"``)."""
        names = [f"stage{k}d" for k in range(1, 6)] + [f"side{k}" for k in range(1, 7)] + ["outconv"]
        return [p for n in names for p in getattr(self, n).parameters()]


def u2netp(**kw: Any) -> U2Net:
    """U²-Net-p (the small one, 1.13 M parameters), random init."""
    return U2Net(U2NetConfig(variant="u2netp", **kw))


def u2net(**kw: Any) -> U2Net:
    """U²-Net (the full one, 44 M parameters), random init."""
    return U2Net(U2NetConfig(variant="u2net", **kw))


def fold_batchnorm(state: Mapping[str, torch.Tensor], eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """Fold the authors' ``*.bn_s1.*`` tensors into the preceding ``*.conv_s1`` (their released ``u2netp.pth`` /
    ``u2net.pth``): w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β. Keys without BN pass through unchanged."""
    out: dict[str, torch.Tensor] = {}
    bn_prefixes = {k[: -len(".bn_s1.weight")] for k in state if k.endswith(".bn_s1.weight")}
    for k, v in state.items():
        if ".bn_s1." not in k:
            out[k] = v
    for p in sorted(bn_prefixes):
        try:
            g, b = state[f"{p}.bn_s1.weight"], state[f"{p}.bn_s1.bias"]
            mu, var = state[f"{p}.bn_s1.running_mean"], state[f"{p}.bn_s1.running_var"]
            w = state[f"{p}.conv_s1.weight"]
        except KeyError as exc:
            raise WeightsError(f"cannot fold batch norm of {p}: {exc.args[0]} is missing from the checkpoint") from exc
        bias = state.get(f"{p}.conv_s1.bias", torch.zeros_like(mu))
        scale = g.double() / torch.sqrt(var.double() + eps)
        out[f"{p}.conv_s1.weight"] = (w.double() * scale.view(-1, 1, 1, 1)).to(w.dtype)
        out[f"{p}.conv_s1.bias"] = ((bias.double() - mu.double()) * scale + b.double()).to(w.dtype)
    return out


# -- checkpoints --------------------------------------------------------------------------------------------------
U2NET_FORMAT = "vsodboost.u2net/1"


def save_u2net(model: U2Net, path: Any, *, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``{"format", "config", "state_dict", "meta"}`` (fp32, readable with ``weights_only=True``), atomically."""
    from .._weights import export_state_dict, save_checkpoint

    save_checkpoint(path, format=U2NET_FORMAT, config=model.config.to_dict(),
                    state_dict=export_state_dict(model, half=False), meta=meta)


def load_u2net(path: Any, *, map_location: str | torch.device = "cpu") -> U2Net:
    """Rebuild a :class:`U2Net` strictly by name from one of: our checkpoint (:func:`save_u2net`), or the authors'
    released ``u2netp.pth`` / ``u2net.pth`` (a plain state dict with batch norm, folded by :func:`fold_batchnorm`;
    the variant is read from ``stage1.rebnconv1``'s width)."""
    from .._weights import load_checkpoint, load_state_dict_strict, sha256_file

    obj = load_checkpoint(path, map_location=map_location)
    if isinstance(obj, Mapping) and obj.get("format") == U2NET_FORMAT:
        config, state, meta = U2NetConfig.from_dict(obj["config"]), obj["state_dict"], dict(obj.get("meta", {}))
    elif isinstance(obj, Mapping) and "stage1.rebnconv1.conv_s1.weight" in obj:
        state = fold_batchnorm(obj)
        mid = state["stage1.rebnconv1.conv_s1.weight"].shape[0]
        config = U2NetConfig(variant="u2netp" if mid == 16 else "u2net", normalize="max")
        meta = {"source": "authors' release (batch norm folded on load)"}
    else:
        fmt = obj.get("format") if isinstance(obj, Mapping) else type(obj).__name__
        raise WeightsError(f"{path} is neither a vsodboost U²-Net checkpoint (format {U2NET_FORMAT!r}) nor the "
                           f"authors' u2netp.pth/u2net.pth state dict (got format {fmt!r})")
    model = U2Net(config)
    load_state_dict_strict(model, state, source=str(path))
    model.provenance = {"file": str(path), "sha256": sha256_file(path), **meta}  # type: ignore[assignment]
    return model.eval()
