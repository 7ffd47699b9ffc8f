"""Pieces shared by the live target networks: input checks, resizing, strict official-checkpoint loading.

Every live class follows one contract (the lead's adapters rely on it): build with ``weights`` (a path, ``None`` for
the published file through :func:`vsodboost._weights.resolve_weights`) or with ``weights=None, random_init=True``
(tests only), then ``predict_video(frames) -> maps``, one float32 map in [0, 1] per frame at frame size.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._device import resolve_device
from .._weights import (
    WeightSpec,
    load_checkpoint,
    load_state_dict_strict,
    rename_keys,
    resolve_weights,
    unwrap_state_dict,
)
from ..errors import InputError, MissingWeightsError, WeightsError

__all__ = [
    "WEIGHTS_SUBDIR",
    "check_video",
    "frames_to_tensor",
    "resize",
    "minmax",
    "load_official",
    "build_weights",
    "LiveNet",
]

_log = logging.getLogger("vsodboost.nets")

# Cache layout: $VSODBOOST_HOME/nets/<filename>; keeps the target networks apart from our own model weights.
WEIGHTS_SUBDIR = "nets"


def check_video(frames: Any, *, who: str) -> list[np.ndarray]:
    """Validate a video given as a list of uint8 ``H×W×3`` RGB arrays of one size; return it as a list."""
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        frames = list(frames)
    if not isinstance(frames, Sequence) or isinstance(frames, (str, bytes)):
        raise InputError(
            f"{who}.predict_video: got {type(frames).__name__}; expected a list of uint8 H×W×3 RGB numpy frames"
        )
    if len(frames) == 0:
        raise InputError(f"{who}.predict_video: the video is empty; expected at least one frame")
    size = None
    for i, f in enumerate(frames):
        if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3:
            got = f"array of shape {f.shape}" if isinstance(f, np.ndarray) else type(f).__name__
            raise InputError(
                f"{who}.predict_video: frame {i} is an {got}; expected an H×W×3 RGB numpy array "
                "(convert grey/RGBA frames to RGB first)"
            )
        if f.dtype != np.uint8:
            raise InputError(
                f"{who}.predict_video: frame {i} has dtype {f.dtype}; expected uint8 0–255 "
                "(for floats in [0, 1] use (x * 255).round().astype(np.uint8))"
            )
        if size is None:
            size = f.shape[:2]
        elif f.shape[:2] != size:
            raise InputError(
                f"{who}.predict_video: frame {i} is {f.shape[0]}×{f.shape[1]} but frame 0 is {size[0]}×{size[1]}; "
                "all frames of a video must share one size"
            )
    return list(frames)


def frames_to_tensor(frames: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """uint8 ``H×W×3`` frames → float32 ``(N, 3, H, W)`` in 0–255 on ``device``."""
    arr = np.stack([np.ascontiguousarray(f) for f in frames])
    return torch.from_numpy(arr).to(device).permute(0, 3, 1, 2).float()


def resize(x: torch.Tensor, size: tuple[int, int], *, align_corners: bool = False, antialias: bool = True) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)``.

    ``antialias=True`` follows PIL's ``Image.resize(BILINEAR)`` (the authors' loaders resize with PIL, which widens
    the filter when shrinking); ``antialias=False`` is ``F.interpolate`` as the networks use internally.
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if antialias and not align_corners:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


def minmax(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-image min-max of ``(N, 1, H, W)``; ``eps`` in both terms as the MGA reference does (flat map → 0)."""
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - lo + eps) / (hi - lo + eps)


def load_official(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    containers: tuple[str, ...] = ("state_dict", "model", "net"),
    strip_prefixes: tuple[str, ...] = ("module.",),
    table: Mapping[str, str] | None = None,
    fill_num_batches_tracked: bool = True,
) -> None:
    """Load an official checkpoint into ``model`` strictly, by name.

    Steps, each explicit: ``torch.load(weights_only=True)`` → unwrap a known container (``{"model": ...}``,
    ``{"net": ...}``) → strip ``module.`` (DataParallel) → rename by ``table`` → add the BatchNorm
    ``num_batches_tracked`` counters when the checkpoint has none at all (files saved by PyTorch ≤ 0.4.0 lack them;
    they only matter for training with ``momentum=None``) → strict load with a readable diff on any mismatch.
    """
    obj = load_checkpoint(path)
    state = unwrap_state_dict(obj, containers)
    state = rename_keys(state, strip_prefixes=strip_prefixes, table=table)
    expected = model.state_dict()
    if fill_num_batches_tracked and not any(k.endswith("num_batches_tracked") for k in state):
        # Only when *every* counter is absent (an old file); a partial set would be a real mismatch.
        for k, v in expected.items():
            if k.endswith("num_batches_tracked"):
                state[k] = torch.zeros_like(v)
    load_state_dict_strict(model, state, source=str(path))


def build_weights(
    model: nn.Module,
    spec: WeightSpec,
    weights: str | os.PathLike[str] | None,
    *,
    random_init: bool,
    who: str,
    **load_kwargs: Any,
) -> str:
    """Fill ``model`` from ``weights`` (path) or the cache, or leave it random when asked; return a description."""
    if random_init:
        if weights is not None:
            raise InputError(f"{who}: weights={weights!r} and random_init=True contradict; pass one of them")
        _log.warning("%s: random weights (random_init=True): the maps are meaningless, for tests only", who)
        return "random"
    try:
        path = resolve_weights(spec, weights, subdir=WEIGHTS_SUBDIR)
    except MissingWeightsError as exc:
        raise MissingWeightsError(
            f"{exc} The authors publish {spec.filename} at: {spec.source} (licence: {spec.license})."
        ) from exc
    try:
        load_official(model, path, **load_kwargs)
    except WeightsError as exc:
        raise WeightsError(f"{who}: {exc}") from exc
    return str(path)


class LiveNet:
    """Common life cycle of a live target: device, weights, eval mode, batch size."""

    name: str = "live"

    def __init__(self, net: nn.Module, spec: WeightSpec, weights: Any, *, device: str | torch.device,
                 random_init: bool, batch_size: int, **load_kwargs: Any) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"{self.name}: batch_size={batch_size!r}; expected an int >= 1")
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.spec = spec
        self.weights_source = build_weights(net, spec, weights, random_init=random_init, who=self.name,
                                            **load_kwargs)
        self.net = net.to(self.device).eval()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weights={self.weights_source!r}, device={str(self.device)!r})"
