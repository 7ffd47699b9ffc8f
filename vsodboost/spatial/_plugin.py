"""Built-in spatial models, registered through ``register_spatial_models`` like any plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import MissingWeightsError
from ..hookspecs import hookimpl
from ..models import SaliencyUNet, saliency_unet
from .checkpoint import load_unet_checkpoint

#: Saliency-pretrained spatial weights shipped in the package (model card beside it).
DEFAULT_SPATIAL_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "spatial_lite0.pt"


def default_spatial(weights: str | Path | None = None, input_size: int | None = None) -> SaliencyUNet:
    """The paper's spatial model (MQPM localization branch on RGB), Lite0 encoder, saliency-pretrained."""
    path = Path(weights) if weights is not None else DEFAULT_SPATIAL_WEIGHTS
    if not path.is_file():
        raise MissingWeightsError(
            f"spatial weights {path} are missing; a source checkout makes them with `vsodboost train spatial "
            "--data ROOT --out vsodboost/weights/spatial_lite0.pt` (see vsodboost/weights/spatial_lite0.md), or "
            "pass spatial='lite0_imagenet' to start from ImageNet weights only"
        )
    return load_unet_checkpoint(path, cls_head=False)


def _lite0_imagenet(**kw: Any) -> SaliencyUNet:
    m = saliency_unet("tf_efficientnet_lite0", pretrained=True, cls_head=False, **kw)
    m.provenance = {"file": str(m.encoder_weights_file), "note": "ImageNet encoder, random decoder"}  # type: ignore[attr-defined]
    return m


def _vgg16(**kw: Any) -> SaliencyUNet:
    m = saliency_unet("vgg16", pretrained=True, cls_head=False, **kw)
    m.provenance = {"file": str(m.encoder_weights_file), "note": "ImageNet VGG-16 encoder, random decoder"}  # type: ignore[attr-defined]
    return m


def timm_unet(encoder: str = "tf_efficientnet_lite0", pretrained: bool = False, **kw: Any) -> SaliencyUNet:
    """The same U-Net on another encoder of ``vsodboost.models.ENCODERS`` (ImageNet init when available)."""
    m = saliency_unet(encoder, pretrained=pretrained, cls_head=False, **kw)
    m.provenance = {"encoder": encoder, "pretrained": pretrained}  # type: ignore[attr-defined]
    return m


@hookimpl
def register_spatial_models(register: Callable[..., None]) -> None:
    register("default", default_spatial, description="Lite0 U-Net + MSDA, saliency-pretrained (shipped), the paper's model")
    register("lite0_imagenet", _lite0_imagenet, description="same network, ImageNet encoder only (bundled weights)")
    register("vgg16", _vgg16, description="VGG-16 encoder as in the paper (needs its ImageNet weights)")
    register("timm_unet", timm_unet, description="the U-Net on any encoder in vsodboost.models.ENCODERS")
