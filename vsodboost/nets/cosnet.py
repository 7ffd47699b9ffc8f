"""COSNet (Lu et al., "See More, Know More: Unsupervised Video Object Segmentation with Co-Attention Siamese
Networks", CVPR 2019) on modern PyTorch.

Architecture (paper + the authors' release, re-implemented here):

- a shared DeepLabv3 encoder: Caffe-style ResNet-101 (stride in the 1×1 conv, ceil-mode max-pool), ``layer3``
  and ``layer4`` dilated by 2 and 4 in every block (output stride 8: 60×60 at 473²), ASPP (image pooling, 1×1,
  3×3 at rates 6, 12, 18, each with BN + ReLU; 3×3 fuse to 256, BN, PReLU);
- vanilla co-attention between the target features E and a reference's features Q: S = Eᵀ W Q (W = ``linear_e``);
  the target's attention summary is Q · softmax_columns(Sᵀ); a 1×1 sigmoid gate; concat with E; 3×3 conv, BN,
  ReLU; 1×1 classifier; bilinear to input size; sigmoid;
- at test time the target is paired with N references (default 5) and the N maps are averaged.

Differences from the release, on purpose: references are chosen deterministically (evenly spaced over the video;
``references="random"`` draws them with a seeded generator instead of the release's unseeded ``random.sample``),
and maps are resized to each video's own frame size (the release resizes every map to a hard-coded 480×854).
The encoder features of every frame are computed once per video and reused for all pairs (exact in eval mode).
"""

from __future__ import annotations

import os
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._weights import WeightSpec
from ..errors import InputError
from ._common import LiveNet, check_video, frames_to_tensor, resize
from ._resnet import Bottleneck, make_stage

__all__ = ["COSNet", "COSNetLive", "COSNET_WEIGHTS", "COSNET_MEAN_BGR", "COSNET_INPUT_SIZE", "reference_indices"]

COSNET_MEAN_BGR = (104.00699, 116.66877, 122.67892)
COSNET_INPUT_SIZE = 473

COSNET_WEIGHTS = WeightSpec(
    name="cosnet",
    filename="co_attention.pth",
    url=None,  # Google Drive / Baidu only: not a direct, checkable download
    sha256=None,
    license="not stated by the authors (github.com/carrierlxk/COSNet has no licence file): research use",
    source="https://github.com/carrierlxk/COSNet (Google Drive "
    "https://drive.google.com/open?id=14ya3ZkneeHsegCgDrvkuFtGoAfVRgErz ; Baidu "
    "https://pan.baidu.com/s/16oFzRmn4Meuq83fCYr4boQ code xwup)",
    description="COSNet trained on MSRA10K + DUT + DAVIS-16 train; {'model': state_dict with 'module.' prefix}",
    meta={"input_size": COSNET_INPUT_SIZE, "mean_bgr": COSNET_MEAN_BGR, "references": 5},
)


class _ASPP(nn.Module):
    """DeepLabv3 head with the release's names (``conv``/``bn_x`` = image pooling, ``conv2d_i``/``bn_i``)."""

    def __init__(self, rates: Sequence[int] = (6, 12, 18), depth: int = 512) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2048, depth, 1)
        self.bn_x = nn.BatchNorm2d(depth)
        self.conv2d_0 = nn.Conv2d(2048, depth, 1)
        self.bn_0 = nn.BatchNorm2d(depth)
        for i, r in enumerate(rates, start=1):
            setattr(self, f"conv2d_{i}", nn.Conv2d(2048, depth, 3, padding=r, dilation=r))
            setattr(self, f"bn_{i}", nn.BatchNorm2d(depth))
        self.bottleneck = nn.Conv2d(depth * 5, 256, 3, padding=1)
        self.bn = nn.BatchNorm2d(256)
        self.prelu = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        pooled = F.relu(self.bn_x(self.conv(x.mean(dim=(2, 3), keepdim=True)))).expand(-1, -1, *x.shape[-2:])
        branches = [F.relu(getattr(self, f"bn_{i}")(getattr(self, f"conv2d_{i}")(x))) for i in range(4)]
        return self.prelu(self.bn(self.bottleneck(torch.cat([pooled, *branches], dim=1))))


class _Encoder(nn.Module):
    """DeepLabv3 ResNet-101 → 256-channel features at stride 8. ``main_classifier`` is kept for strict loading
    (the co-attention model does not use the encoder's own prediction)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        cfg = ((64, 3, 1, 1), (128, 4, 2, 1), (256, 23, 1, 2), (512, 3, 1, 4))
        inp = 64
        for i, (c, n, s, d) in enumerate(cfg, start=1):
            setattr(self, f"layer{i}", make_stage(Bottleneck, inp, c, n, stride=s, dilation=d, dilate_all=True,
                                                  stride_in_1x1=True, force_downsample=True))
            inp = c * 4
        self.layer5 = _ASPP()
        self.main_classifier = nn.Conv2d(256, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.layer5(x)


class COSNet(nn.Module):
    """COSNet with the release's parameter names (``co_attention.pth`` loads strictly after ``module.`` removal).

    ``encode(x)``: ``(N, 3, H, W)`` mean-subtracted BGR → features. ``attend(target_feat, ref_feat, size)``:
    target-branch logits ``(N, 1, *size)``. ``forward(target, reference)`` chains both.
    """

    def __init__(self, channels: int = 256) -> None:
        super().__init__()
        self.encoder = _Encoder()
        self.linear_e = nn.Linear(channels, channels, bias=False)
        self.gate = nn.Conv2d(channels, 1, 1, bias=False)
        self.conv1 = nn.Conv2d(channels * 2, channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels * 2, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.main_classifier1 = nn.Conv2d(channels, 1, 1)
        self.main_classifier2 = nn.Conv2d(channels, 1, 1)  # reference branch: trained, unused at test time

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def attend(self, e: Tensor, q: Tensor, size: tuple[int, int]) -> Tensor:
        n, c, h, w = e.shape
        ef, qf = e.flatten(2), q.flatten(2)  # (N, C, HW)
        affinity = torch.bmm(self.linear_e(ef.transpose(1, 2)), qf)  # (N, HW_e, HW_q)
        # Target summary: every target position reads the reference, weights normalised over reference positions.
        summary = torch.bmm(qf, affinity.transpose(1, 2).softmax(dim=1)).view(n, c, h, w)
        summary = summary * torch.sigmoid(self.gate(summary))
        x = F.relu(self.bn1(self.conv1(torch.cat([summary, e], dim=1))))
        return F.interpolate(self.main_classifier1(x), size=size, mode="bilinear", align_corners=False)

    def forward(self, target: Tensor, reference: Tensor) -> Tensor:
        return self.attend(self.encode(target), self.encode(reference), tuple(target.shape[-2:]))


def reference_indices(n: int, k: int, mode: Literal["even", "random"] = "even",
                      rng: np.random.Generator | None = None) -> list[int]:
    """``min(k, n)`` distinct reference frames out of ``n``: evenly spaced (first and last included) or drawn."""
    if n < 1 or k < 1:
        raise InputError(f"reference_indices: n={n}, k={k}; both must be >= 1")
    k = min(k, n)
    if mode == "even":
        return np.linspace(0, n - 1, k).round().astype(int).tolist() if k > 1 else [(n - 1) // 2]
    if mode == "random":
        rng = rng if rng is not None else np.random.default_rng(0)
        return sorted(rng.choice(n, size=k, replace=False).tolist())
    raise InputError(f"reference mode {mode!r}; expected 'even' or 'random'")


class COSNetLive(LiveNet):
    """Run COSNet over a whole video: each frame paired with N reference frames, maps averaged, at frame size.

    Args:
        weights: path to ``co_attention.pth`` (``{"model": {"module.…": …}}``); ``None`` looks in the cache
            (``$VSODBOOST_HOME/nets``) and raises a clear error when absent.
        references: N, references per frame (5 as the release; fewer when the video is shorter).
        reference_mode: ``"even"`` (default): the same N evenly spaced frames of the video for every target;
            ``"random"``: N distinct frames drawn per target from a generator seeded with ``seed`` (the release
            draws unseeded per target).
        batch_size: frames per encoder / co-attention pass.
        input_size: network input side (473 as trained; smaller only to make tests fast).
    """

    name = "cosnet"

    def __init__(self, weights: str | os.PathLike[str] | None = None, *, device: str | torch.device = "cpu",
                 random_init: bool = False, references: int = 5,
                 reference_mode: Literal["even", "random"] = "even", seed: int = 0, batch_size: int = 2,
                 input_size: int = COSNET_INPUT_SIZE) -> None:
        if not isinstance(references, int) or references < 1:
            raise InputError(f"cosnet: references={references!r}; expected an int >= 1 (5 as released)")
        if reference_mode not in ("even", "random"):
            raise InputError(f"cosnet: reference_mode={reference_mode!r}; expected 'even' or 'random'")
        if not isinstance(input_size, int) or input_size < 32:
            raise InputError(f"cosnet: input_size={input_size!r}; expected an int >= 32 (473 as trained)")
        super().__init__(COSNet(), COSNET_WEIGHTS, weights, device=device, random_init=random_init,
                         batch_size=batch_size, containers=("model", "state_dict", "net"),
                         strip_prefixes=("module.",))
        self.references, self.reference_mode, self.seed = references, reference_mode, seed
        self.input_size = input_size
        self._mean = torch.tensor(COSNET_MEAN_BGR, device=self.device).view(1, 3, 1, 1)

    def _prep(self, frames: Sequence[np.ndarray]) -> Tensor:
        x = frames_to_tensor(frames, self.device).flip(1)  # RGB → BGR, as cv2.imread gave the release
        x = resize(x, (self.input_size, self.input_size))
        return x - self._mean

    def _encode(self, frames: Sequence[np.ndarray], idx: Sequence[int]) -> dict[int, Tensor]:
        feats: dict[int, Tensor] = {}
        for s in range(0, len(idx), self.batch_size):
            chunk = list(idx[s : s + self.batch_size])
            for i, f in zip(chunk, self.net.encode(self._prep([frames[i] for i in chunk]))):
                feats[i] = f
        return feats

    def plan(self, n: int) -> list[list[int]]:
        """The reference frames of each of ``n`` targets (deterministic for a given ``seed``)."""
        if self.reference_mode == "even":
            refs = reference_indices(n, self.references, "even")
            return [refs] * n
        rng = np.random.default_rng(self.seed)
        return [reference_indices(n, self.references, "random", rng) for _ in range(n)]

    @torch.no_grad()
    def predict_video(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One float32 map in [0, 1] per frame, at frame size."""
        frames = check_video(frames, who="cosnet")
        n, (h, w) = len(frames), frames[0].shape[:2]
        plan = self.plan(n)
        # Reference features once per video (for "random" this can be every frame: memory grows with n).
        ref_feats = self._encode(frames, sorted({i for refs in plan for i in refs}))
        size = (self.input_size, self.input_size)
        maps: list[np.ndarray] = []
        for s in range(0, n, self.batch_size):
            tgt = list(range(s, min(s + self.batch_size, n)))
            missing = [i for i in tgt if i not in ref_feats]  # targets that are references reuse their features
            extra = dict(zip(missing, self.net.encode(self._prep([frames[i] for i in missing])))) if missing else {}
            e = torch.stack([ref_feats[i] if i in ref_feats else extra[i] for i in tgt])
            acc = torch.zeros(len(tgt), 1, *size, device=self.device)
            for j in range(len(plan[tgt[0]])):  # every target has the same number of references
                q = torch.stack([ref_feats[plan[i][j]] for i in tgt])
                acc += torch.sigmoid(self.net.attend(e, q, size))
            prob = acc / len(plan[tgt[0]])
            # The release resizes with cv2.resize (bilinear, no antialiasing) — to the frame's own size here.
            prob = F.interpolate(prob, size=(h, w), mode="bilinear", align_corners=False)
            maps.extend(m[0].clamp(0, 1).cpu().numpy() for m in prob)
        return maps
