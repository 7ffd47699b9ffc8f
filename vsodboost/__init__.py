"""vsodboost: make any video salient object detection model better on the video at hand."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ChecksumError,
    InputError,
    MissingWeightsError,
    PluginError,
    TargetError,
    UnknownNameError,
    VsodboostError,
    WeightsError,
)
from .hookspecs import hookimpl  # noqa: E402
from ._registry import Registry  # noqa: E402

__all__ = [
    "__version__",
    "hookimpl",
    "Registry",
    "VsodboostError",
    "InputError",
    "UnknownNameError",
    "WeightsError",
    "MissingWeightsError",
    "ChecksumError",
    "TargetError",
    "PluginError",
]
