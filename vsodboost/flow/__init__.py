"""Optical-flow backends: one contract, OpenCV and pure-PyTorch deep backends, Middlebury colour coding.

Example:
    >>> import torch
    >>> from vsodboost.flow import create_flow, buffer_flows, flow_to_color
    >>> frames = torch.zeros(4, 3, 64, 64, dtype=torch.uint8)   # uint8 RGB (T, 3, H, W)
    >>> flows = buffer_flows(create_flow("dis"), frames)         # (T, 2, H, W), last frame included
    >>> images = flow_to_color(flows)                            # uint8 RGB (T, 3, H, W)
"""

from __future__ import annotations

from typing import Any

from ._base import (LAST_FRAME_MODES, FlowBackend, as_frames, buffer_flows, check_flow_size, check_frames, flow_size,
                    flows_with_backward_last)
from ._color import flow_to_color, middlebury_wheel
from .correlation import correlation
from .liteflownet import LiteFlowNet
from .opencv import DISFlow, FarnebackFlow, OpenCVFlow
from .pwcnet import PWCNet
from .raft import RAFTFlow
from .spynet import SPyNet

__all__ = [
    "FlowBackend",
    "create_flow",
    "list_flows",
    "buffer_flows",
    "flow_size",
    "flows_with_backward_last",
    "check_flow_size",
    "flow_to_color",
    "middlebury_wheel",
    "check_frames",
    "as_frames",
    "LAST_FRAME_MODES",
    "DEFAULT_FLOW",
    "OpenCVFlow",
    "DISFlow",
    "FarnebackFlow",
    "SPyNet",
    "PWCNet",
    "LiteFlowNet",
    "RAFTFlow",
    "correlation",
]

#: The embedded default: needs no weights (see docs/flow.md for the measurement behind it).
DEFAULT_FLOW = "dis"


def create_flow(name: str = DEFAULT_FLOW, /, **kwargs: Any) -> FlowBackend:
    """Build the flow backend registered as ``name`` (built-in or from a plugin).

    Keyword arguments go to the backend's factory (those set to None are dropped), e.g.
    ``create_flow("dis", preset="fast")``, ``create_flow("spynet", weights="sintel-final", device="cuda")``.
    Deep backends default to their published weights; ``weights="random"`` gives a random initialisation
    (None is dropped by the registry). Missing weights raise :class:`~vsodboost.MissingWeightsError`.
    """
    from .. import plugins

    return plugins.registry("flow").create(name, **kwargs)


def list_flows() -> list[str]:
    """Names of all registered flow backends, in natural order."""
    from .. import plugins

    return plugins.registry("flow").names()
