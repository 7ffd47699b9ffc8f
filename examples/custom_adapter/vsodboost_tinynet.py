"""An example third-party target for vsodboost: a tiny PyTorch model wrapped as a ``TargetModel``.

The whole plugin is this module plus one entry point in ``pyproject.toml``::

    [project.entry-points.vsodboost]
    tinynet = "vsodboost_tinynet"

vsodboost imports the module when it loads its plugins and calls :func:`register_targets`; after
``pip install ./examples/custom_adapter`` the model is available as ``vsodboost.adapters.tinynet()`` and listed by
``vsodboost plugins``. Replace :class:`TinyNet` by your own network (and load your checkpoint in ``__init__``).
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

import vsodboost

__all__ = ["TinyNet", "TinyNetTarget", "register_targets"]


class TinyNet(nn.Module):
    """Two 3×3 convolutions: RGB (N, 3, H, W) in [0, 1] → saliency logits (N, 1, H, W), same size."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(x)))


class TinyNetTarget:
    """The adapter: satisfies :class:`vsodboost.target.TargetModel` (a ``name`` and ``predict(video)``).

    Args:
        weights: optional path of a state dict for :class:`TinyNet`; loaded strictly by name.
        hidden: width of the hidden layer.
        seed: seed of the random initialisation used when ``weights`` is None (deterministic maps).
        device: where the network runs.
        batch_size: frames per forward pass.
    """

    name = "tinynet"

    def __init__(
        self,
        *,
        weights: str | os.PathLike[str] | None = None,
        hidden: int = 8,
        seed: int = 0,
        device: str = "cpu",
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise vsodboost.InputError(f"tinynet: batch_size must be >= 1, got {batch_size}")
        with torch.random.fork_rng(devices=[]):  # seed locally: the caller's global RNG is left as it was
            torch.manual_seed(seed)
            self.net = TinyNet(hidden)
        if weights is not None:
            from vsodboost.weights import load_checkpoint, load_state_dict_strict, unwrap_state_dict

            state = unwrap_state_dict(load_checkpoint(weights))
            load_state_dict_strict(self.net, state, source=str(weights))
        self.device = torch.device(device)
        self.net.to(self.device).eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def predict(self, video: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One float32 map H×W in [0, 1] per frame (``video`` is a :class:`vsodboost.video.Video`)."""
        maps: list[np.ndarray] = []
        for start in range(0, len(video), self.batch_size):
            chunk = np.stack([video[i] for i in range(start, min(start + self.batch_size, len(video)))])
            x = torch.from_numpy(chunk).to(self.device).permute(0, 3, 1, 2).float() / 255.0
            prob = torch.sigmoid(self.net(x))[:, 0]  # (N, H, W), frame size: the convs keep H×W
            maps.extend(prob.cpu().numpy().astype(np.float32))
        return maps

    def __repr__(self) -> str:
        return f"TinyNetTarget(device={str(self.device)!r})"


@vsodboost.hookimpl
def register_targets(register: Callable[..., None]) -> None:
    register("tinynet", TinyNetTarget, description="example plugin: 2-layer conv net (examples/custom_adapter)")
