"""RAFT (Teed & Deng, ECCV 2020) from torchvision (pure PyTorch), behind the flow-backend contract.

Preprocessing follows torchvision's ``OpticalFlow`` transform (RGB scaled to [-1, 1]); frames are padded by
edge replication to a multiple of 8 (centred, as RAFT's own ``InputPadder``) and the flow is cropped back; the
last of the iterative updates is returned, already in pixels at full resolution. Weights are torchvision's
published files in its cache (``torch.hub.get_dir()/checkpoints``), but loaded by us, never by torchvision's
``weights=`` path (which unpickles with ``weights_only=False``): the file's sha256 must start with the hash prefix
torchvision publishes in the file name, checked on *every* load, then ``torch.load(weights_only=True)`` and a strict
load by name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._weights import _download, load_checkpoint, load_state_dict_strict, sha256_file, unwrap_state_dict
from .._weights import offline as weights_offline
from ..errors import ChecksumError, InputError, MissingWeightsError
from ._base import check_frames, module_device

__all__ = ["RAFTFlow", "raft_weights"]

_BUILDERS = {"raft_small": "Raft_Small_Weights", "raft_large": "Raft_Large_Weights"}


def raft_weights(arch: str, weights: Any) -> Any:
    """Resolve ``weights`` ("DEFAULT", a member name like "C_T_V2", or an enum member) for ``arch``."""
    from torchvision.models import optical_flow as of

    enum = getattr(of, _BUILDERS[arch])
    if isinstance(weights, enum):
        return weights
    if isinstance(weights, str):
        try:
            return enum[weights] if weights != "DEFAULT" else enum.DEFAULT
        except KeyError:
            pass
    names = ", ".join(["DEFAULT", *enum.__members__])
    raise InputError(f"{arch}: weights={weights!r} is not a torchvision weight; expected one of {names} or None")


def _hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


class RAFTFlow(nn.Module):
    """torchvision RAFT as a flow backend (``"raft_small"``, ``"raft_large"``).

    Args:
        arch: ``"raft_small"`` or ``"raft_large"``.
        weights: ``"DEFAULT"`` (raft_large: C_T_SKHT_V2, raft_small: C_T_V2), another member name of the
            torchvision weights enum, or None for random initialisation. Missing weights raise
            :class:`~vsodboost.MissingWeightsError` naming the file and the torch hub cache folder; with
            ``VSODBOOST_OFFLINE=1`` no download is attempted.
        device: where the network runs.
        num_flow_updates: RAFT's refinement iterations (torchvision's default 12).
        batch_size: frame pairs per forward pass.
    """

    size_multiple = 8
    min_size = 128  # torchvision: the 1/8-resolution correlation pyramid needs feature maps of at least 16

    def __init__(
        self,
        arch: str = "raft_large",
        weights: Any = None,
        *,
        device: Any = None,
        num_flow_updates: int = 12,
        batch_size: int = 4,
    ) -> None:
        super().__init__()
        if arch not in _BUILDERS:
            raise InputError(f"arch={arch!r}; expected one of {sorted(_BUILDERS)}")
        from torchvision.models import optical_flow as of

        self.name = arch
        self.num_flow_updates = num_flow_updates
        self.batch_size = batch_size
        builder = getattr(of, arch)
        self.weights_name = None
        if weights is None:
            self.model = builder(weights=None)
        else:
            w = raft_weights(arch, weights)
            self.weights_name = w.name
            self.model = self._build_pretrained(builder, w)
        if device is not None:
            self.to(device)

    @staticmethod
    def _build_pretrained(builder: Any, w: Any) -> nn.Module:
        target = _hub_file(w.url)
        offline = weights_offline()
        hint = (f"Download {w.url} and place it at {target} (torch hub cache, set by $TORCH_HOME), or use "
                "weights=None.")
        if not target.is_file():
            if offline:
                raise MissingWeightsError(f"torchvision weights {w} ({target.name}) are not cached and "
                                          f"VSODBOOST_OFFLINE is set. {hint}")
            try:
                _download(w.url, target, None)
            except Exception as exc:  # URLError/HTTPError/OSError when it cannot download
                raise MissingWeightsError(f"torchvision weights {w} ({target.name}) could not be downloaded "
                                          f"({type(exc).__name__}: {exc}). {hint}") from exc
        m = re.search(r"-([0-9a-f]{8,})\.pth$", target.name)
        got = sha256_file(target)
        if m is None or not got.startswith(m.group(1)):
            raise ChecksumError(f"{target} has sha256 {got}, which does not start with the prefix torchvision "
                                f"publishes in its name; delete the file and fetch {w.url} again")
        model = builder(weights=None)
        load_state_dict_strict(model, unwrap_state_dict(load_checkpoint(target)), source=str(target))
        return model

    device = property(lambda self: module_device(self))

    @torch.no_grad()
    def estimate(self, frames: torch.Tensor) -> torch.Tensor:
        frames = check_frames(frames, min_size=self.min_size, backend=self.name)
        t, _, h, w = frames.shape
        ph, pw = (-h) % 8, (-w) % 8
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)  # left, right, top, bottom
        was_training = self.training
        self.model.eval()
        try:
            out = []
            for i in range(0, t - 1, self.batch_size):
                j = min(i + self.batch_size, t - 1)
                x = frames[i : j + 1].to(self.device).float().div_(127.5).sub_(1.0)  # [-1, 1] as torchvision
                if ph or pw:
                    x = F.pad(x, pad, mode="replicate")
                flow = self.model(x[:-1], x[1:], num_flow_updates=self.num_flow_updates)[-1]
                out.append(flow[:, :, pad[2] : pad[2] + h, pad[0] : pad[0] + w].float())
        finally:
            self.model.train(was_training)
        return torch.cat(out).to(frames.device)

    def extra_repr(self) -> str:
        return f"arch={self.name!r}, weights={self.weights_name!r}, num_flow_updates={self.num_flow_updates}"
