"""Built-in encoders of the shared U-Net, registered through the same ``register_encoders`` hook as third-party ones."""

from __future__ import annotations

from typing import Callable

from ..hookspecs import hookimpl


@hookimpl
def register_encoders(register: Callable[..., None]) -> None:
    from .encoders import ENCODERS

    descriptions = {
        "tf_efficientnet_lite0": "EfficientNet-Lite0 (timm), ImageNet weights bundled; the MQPM and lite0 encoder",
        "vgg16": "VGG-16 (timm) as in the paper; ImageNet weights from torchvision (download or cache)",
    }
    for name, spec in ENCODERS.items():
        register(name, spec, description=descriptions[name])
