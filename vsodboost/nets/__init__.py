"""Live target networks: our PyTorch implementations of published VSOD models, loading the official checkpoints.

Each ``<Method>Live`` class runs its method's clip protocol over a whole video:
``predict_video(frames: list[uint8 H×W×3 RGB]) -> list[float32 H×W in [0, 1]]``. See docs/live_targets.md.
"""

from .cosnet import COSNET_WEIGHTS, COSNet, COSNetLive
from .mga import MGA_WEIGHTS, MGALive, MGANet
from .pcsa import PCSA_WEIGHTS, PCSALive, PCSANet

__all__ = [
    "MGANet", "MGALive", "MGA_WEIGHTS",
    "COSNet", "COSNetLive", "COSNET_WEIGHTS",
    "PCSANet", "PCSALive", "PCSA_WEIGHTS",
]
