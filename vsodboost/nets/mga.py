"""MGA (Li et al., "Motion Guided Attention for Video Salient Object Detection", ICCV 2019) on modern PyTorch.

Architecture (paper + the authors' MIT-licensed release, re-implemented here):

- a DeepLabv3+ branch on the RGB frame: dilated ResNet-101 (output stride 16: stages 3 strides 1,2,2,1 and only
  the first block of ``layer4`` dilated by 2), ASPP (rates 1, 6, 12, 18 + image pooling), a 48-channel low-level
  skip from ``layer1`` and a 3-conv head at stride 4;
- a motion branch on the colour-coded flow image: dilated ResNet-34 + ASPP + head, giving a motion saliency map;
- motion-guided attention: after the stem and each of the four stages the flow features gate the RGB features
  (spatial gate = sigmoid of a 1×1 conv of the flow features; then channel gate = softmax over channels of a 1×1
  conv of the pooled gated features, times C; residual add), and the decoder features are multiplied by
  ``1 + sigmoid(motion map)``.

Inference as the release does it: both inputs resized to 512² (PIL bilinear), /255, ImageNet mean/std; sigmoid;
per-image min-max; bilinear (align_corners=True) back to frame size.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._weights import WeightSpec
from ..errors import InputError, PluginError
from ..flow import flows_with_backward_last
from ._common import LiveNet, check_video, frames_to_tensor, minmax, resize
from ._resnet import BasicBlock, Bottleneck, make_stage

__all__ = ["MGANet", "MGALive", "MGA_WEIGHTS", "MGA_MEAN", "MGA_STD", "MGA_INPUT_SIZE"]

MGA_MEAN = (0.485, 0.456, 0.406)
MGA_STD = (0.229, 0.224, 0.225)
MGA_INPUT_SIZE = 512
# ASPP rates and stage layout for output stride 16, the only setting the release ships.
_RATES = (1, 6, 12, 18)
_STRIDES = (1, 2, 2, 1)
_DILATIONS = (1, 1, 1, 2)

MGA_WEIGHTS = WeightSpec(
    name="mga",
    filename="MGA_trained.pth",
    # The authors publish on Google Drive / Baidu only; neither is a direct, checkable download, so no url:
    # resolve_weights then never saves an HTML page under the weights' name.
    url=None,
    sha256=None,
    license="MIT (code and weights, github.com/lhaof/Motion-Guided-Attention)",
    source="https://github.com/lhaof/Motion-Guided-Attention (Google Drive "
    "https://drive.google.com/file/d/1tuG_S5nIAEfigKNPPsOo7SG-iIWo3T4N/view ; Baidu "
    "https://pan.baidu.com/s/13XT8xLnwFH13dMU89vkUEQ code a6pc)",
    description="MGA trained on DUTS + DAVIS/FBMS (plain state dict, PyTorch 0.4 era, no num_batches_tracked)",
    meta={"params": 90_000_000, "input_size": 512, "mean": MGA_MEAN, "std": MGA_STD},
)


class _ASPPBranch(nn.Module):
    def __init__(self, cin: int, cout: int, rate: int) -> None:
        super().__init__()
        k, p = (1, 0) if rate == 1 else (3, rate)
        self.atrous_convolution = nn.Conv2d(cin, cout, k, padding=p, dilation=rate, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.atrous_convolution(x)))


class _ASPP(nn.Module):
    """Four parallel dilated branches + image pooling, fused by a 1×1 conv (all with BN + ReLU)."""

    def __init__(self, cin: int, cout: int = 256, rates: Sequence[int] = _RATES) -> None:
        super().__init__()
        self.aspp1, self.aspp2, self.aspp3, self.aspp4 = (_ASPPBranch(cin, cout, r) for r in rates)
        self.global_avg_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
        )
        self.conv1 = nn.Conv2d(cout * 5, cout, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.global_avg_pool(x).expand(-1, -1, *x.shape[-2:])  # upsampling a 1×1 map is a broadcast
        y = torch.cat([self.aspp1(x), self.aspp2(x), self.aspp3(x), self.aspp4(x), pooled], dim=1)
        return F.relu(self.bn1(self.conv1(y)))


def _head(cin: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
        nn.Conv2d(256, 1, 1),
    )


class _FlowEncoder(nn.Module):
    """Dilated ResNet-34 (output stride 16) returning the stem and the four stage outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        chans, inp = (64, 128, 256, 512), 64
        for i, (c, n) in enumerate(zip(chans, (3, 4, 6, 3))):
            setattr(self, f"layer{i + 1}", make_stage(BasicBlock, inp, c, n, stride=_STRIDES[i],
                                                      dilation=_DILATIONS[i]))
            inp = c

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = [F.relu(self.bn1(self.conv1(x)))]
        x = self.maxpool(feats[0])
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


class _MotionBranch(nn.Module):
    """Flow image → (motion logits at input size, [stem, layer1..4] features)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone_features = _FlowEncoder()
        self.aspp = _ASPP(512)
        self.last_conv = _head(256)

    def forward(self, flow: Tensor) -> tuple[Tensor, list[Tensor]]:
        feats = self.backbone_features(flow)
        logits = self.last_conv(self.aspp(feats[-1]))
        logits = F.interpolate(logits, size=flow.shape[-2:], mode="bilinear", align_corners=True)
        return logits, feats


class MGANet(nn.Module):
    """The MGA network with the release's parameter names (``MGA_trained.pth`` loads strictly).

    ``forward(img, flow)`` takes two normalised ``(N, 3, H, W)`` tensors (any H, W; 512² as trained) and returns
    saliency logits ``(N, 1, H, W)``.
    """

    def __init__(self) -> None:
        super().__init__()
        # RGB encoder: ResNet-101, parameters at the top level as in the release.
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inp = 64
        for i, (c, n) in enumerate(zip((64, 128, 256, 512), (3, 4, 23, 3))):
            setattr(self, f"layer{i + 1}", make_stage(Bottleneck, inp, c, n, stride=_STRIDES[i],
                                                      dilation=_DILATIONS[i]))
            inp = c * 4
        self.aspp = _ASPP(2048)
        self.last_conv = _head(256 + 48)
        self.conv2 = nn.Conv2d(256, 48, 1, bias=False)  # low-level skip
        self.bn2 = nn.BatchNorm2d(48)
        self.resnet_aspp = _MotionBranch()
        # Attention 1×1 convs: spatial ones read flow channels, channel-wise ones act on RGB channels.
        for name, img_c, flow_c in (("conv1", 64, 64), ("layer1", 256, 64), ("layer2", 512, 128),
                                    ("layer3", 1024, 256), ("layer4", 2048, 512)):
            setattr(self, f"conv1x1_{name}_channel_wise", nn.Conv2d(img_c, img_c, 1))
            setattr(self, f"conv1x1_{name}_spatial", nn.Conv2d(flow_c, 1, 1))

    def _attend(self, img: Tensor, flow: Tensor, name: str) -> Tensor:
        gated = torch.sigmoid(getattr(self, f"conv1x1_{name}_spatial")(flow)) * img
        vec = getattr(self, f"conv1x1_{name}_channel_wise")(gated.mean(dim=(2, 3), keepdim=True))
        vec = torch.softmax(vec, dim=1) * vec.shape[1]  # mean weight 1: re-weights channels without rescaling
        return gated * vec + img

    def forward(self, img: Tensor, flow: Tensor) -> Tensor:
        motion_logits, ff = self.resnet_aspp(flow)
        x = self._attend(F.relu(self.bn1(self.conv1(img))), ff[0], "conv1")
        x = self.maxpool(x)
        x = self._attend(self.layer1(x), ff[1], "layer1")
        low = x
        x = self._attend(self.layer2(x), ff[2], "layer2")
        x = self._attend(self.layer3(x), ff[3], "layer3")
        x = self._attend(self.layer4(x), ff[4], "layer4")
        x = self.aspp(x)
        low = self.bn2(self.conv2(low))  # no ReLU on the skip, as released
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=True)
        x = torch.cat([x, low], dim=1)
        # The motion map is made at input size, then resized to the decoder's stride-4 grid (as released).
        motion = F.interpolate(torch.sigmoid(motion_logits), size=x.shape[-2:], mode="bilinear", align_corners=True)
        x = x * motion + x
        x = self.last_conv(x)
        return F.interpolate(x, size=img.shape[-2:], mode="bilinear", align_corners=True)


FlowFn = Callable[[Tensor], Tensor]


class _CallableFlow:
    """Wrap ``fn(frames uint8 (T,3,H,W)) -> (T-1,2,H,W)`` as a flow backend."""

    def __init__(self, fn: FlowFn) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def estimate(self, frames: Tensor) -> Tensor:
        return self.fn(frames)

    def to(self, device: Any) -> "_CallableFlow":
        return self


class MGALive(LiveNet):
    """Run MGA over a whole video: flow per frame → colour-coded flow image → MGA → map at frame size.

    Args:
        weights: path to ``MGA_trained.pth``; ``None`` looks in the cache (``$VSODBOOST_HOME/nets``) and raises
            :class:`~vsodboost.errors.MissingWeightsError` naming the file when it is not there.
        device: torch device for the network (the flow backend is moved there too when it supports it).
        flow: a registered flow backend name (``vsodboost.flow.create_flow``), a backend object with
            ``estimate``, or a callable ``uint8 (T,3,H,W) -> float (T-1,2,H,W)``. The authors used FlowNet 2.0;
            a weaker backend gives noisier flow images and lower scores (docs/live_targets.md).
        random_init: build with random weights (tests only; requires ``weights=None``).
        batch_size: frames per forward pass.
        input_size: network input side; 512 as trained (smaller only to make tests fast).

    Flow of frame i is frame i → i+1; the last frame uses the negated backward flow (last → previous), so its
    flow image stays aligned with it; a one-frame video gets zero motion (a white flow image).
    """

    name = "mga"

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, device: str | torch.device = "cpu",
                 flow: str | Any = "dis", random_init: bool = False, batch_size: int = 4,
                 input_size: int = MGA_INPUT_SIZE) -> None:
        if not isinstance(input_size, int) or input_size < 32:
            raise InputError(f"mga: input_size={input_size!r}; expected an int >= 32 (512 as trained)")
        super().__init__(MGANet(), MGA_WEIGHTS, weights, device=device, random_init=random_init,
                         batch_size=batch_size)
        self.input_size = input_size
        self.flow = self._make_flow(flow)
        self._mean = torch.tensor(MGA_MEAN, device=self.device).view(1, 3, 1, 1) * 255
        self._std = torch.tensor(MGA_STD, device=self.device).view(1, 3, 1, 1) * 255

    def _make_flow(self, flow: Any) -> Any:
        if isinstance(flow, str):
            from ..flow import create_flow

            backend = create_flow(flow)
        elif hasattr(flow, "estimate"):
            backend = flow
        elif callable(flow):
            backend = _CallableFlow(flow)
        else:
            raise InputError(
                f"mga: flow={flow!r}; expected a flow backend name (e.g. 'dis', 'spynet'), a backend with "
                ".estimate, or a callable frames uint8 (T,3,H,W) -> flows (T-1,2,H,W)"
            )
        if hasattr(backend, "to"):
            backend = backend.to(self.device) or backend
        return backend

    def _estimate(self, frames: Tensor) -> Tensor:
        out = self.flow.estimate(frames)
        t, _, h, w = frames.shape
        if not isinstance(out, Tensor) or tuple(out.shape) != (t - 1, 2, h, w):
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise PluginError(f"mga: flow backend returned {got} for {t} frames of {h}×{w}; "
                              f"expected ({t - 1}, 2, {h}, {w})")
        return out.float()

    def flows_for(self, video: Tensor, start: int, stop: int) -> Tensor:
        """Flows ``(stop-start, 2, H, W)`` of frames ``start..stop-1`` of a uint8 ``(T, 3, H, W)`` video."""
        t = video.shape[0]
        if t == 1:
            return torch.zeros(1, 2, *video.shape[-2:], device=video.device)
        if stop < t:  # every frame in the chunk has a successor
            return self._estimate(video[start : stop + 1])
        lo = min(start, t - 2)
        return flows_with_backward_last(self._estimate, video[lo:t])[start - lo :]  # the last: -flow(T-1 → T-2)

    def _prep(self, x: Tensor) -> Tensor:
        x = resize(x.float(), (self.input_size, self.input_size))
        return (x - self._mean) / self._std

    @torch.no_grad()
    def predict_video(self, frames: Sequence[np.ndarray],
                      flow_images: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """One float32 map in [0, 1] per frame, at frame size.

        ``flow_images``: optional precomputed colour-coded flow images (uint8 H×W×3 RGB, one per frame, e.g. the
        FlowNet 2.0 images the authors used); when given, no flow is estimated.
        """
        from ..flow import flow_to_color

        frames = check_video(frames, who="mga")
        if flow_images is not None:
            flow_images = check_video(flow_images, who="mga(flow_images)")
            if len(flow_images) != len(frames):
                raise InputError(f"mga: got {len(flow_images)} flow images for {len(frames)} frames; "
                                 "expected one flow image per frame")
        h, w = frames[0].shape[:2]
        video = torch.from_numpy(np.stack(frames)).to(self.device).permute(0, 3, 1, 2)  # uint8
        maps: list[np.ndarray] = []
        for s in range(0, len(frames), self.batch_size):
            e = min(s + self.batch_size, len(frames))
            img = self._prep(video[s:e])
            if flow_images is not None:
                fimg = frames_to_tensor(flow_images[s:e], self.device)
            else:
                fimg = flow_to_color(self.flows_for(video, s, e), normalize="frame")
            logits = self.net(img, self._prep(fimg))
            prob = minmax(torch.sigmoid(logits))
            prob = F.interpolate(prob, size=(h, w), mode="bilinear", align_corners=True).clamp_(0, 1)
            maps.extend(m[0].float().cpu().numpy() for m in prob)
        return maps

