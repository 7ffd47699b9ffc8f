"""vsodboost: make any video salient object detection model better on the video at hand."""

from __future__ import annotations

from ._version import __version__
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
from .target import TargetModel  # noqa: E402
from .video import Video, load_video  # noqa: E402
from .booster import Booster  # noqa: E402
from .config import BoostConfig  # noqa: E402
from .results import BoostResult  # noqa: E402
from . import adapters  # noqa: E402  (the top-level adapters/ folder, shipped as vsodboost.adapters)

__all__ = [
    "__version__",
    "Booster",
    "BoostConfig",
    "BoostResult",
    "TargetModel",
    "Video",
    "load_video",
    "adapters",
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
