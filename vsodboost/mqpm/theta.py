"""Θ of Eq. 1: a saliency model applied to colour-coded flow images.

A Θ is any callable ``uint8 (B,3,H,W) flow images → float (B,H,W) in [0, 1]``. Θs live in the ``"theta"``
registry (``vsodboost.plugins.thetas()``): the built-ins below register through the ``register_thetas`` hook
(``mqpm/_plugin.py``) like a plugin's; :func:`register_theta` is the run-time shorthand for such a plugin. A name
is resolved to a fresh Θ each time (:func:`get_theta`), so a Θ holding a network (``"spatial"``) lives as long
as its caller keeps it: resolve once per run. See ``docs/mqpm.md`` for the measurement behind the default.
"""

from __future__ import annotations

import types
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._registry import Registry
from ..errors import DuplicateNameError, InputError
from ..hookspecs import hookimpl

__all__ = ["Theta", "register_theta", "get_theta", "list_thetas", "DEFAULT_THETA",
           "border_contrast", "border_contrast_center", "SpatialTheta", "saturation", "center_prior"]

Theta = Callable[[torch.Tensor], torch.Tensor]

#: The default Θ (chosen by the measurement in docs/mqpm.md).
DEFAULT_THETA = "border-contrast-center"

_RUNTIME = "vsodboost.register_theta:"  # plugin-name prefix of the Θs registered by register_theta


def register_theta(name: str, fn: Theta | None = None, *, replace: bool = False) -> Any:
    """Register ``fn`` as Θ ``name`` at run time (usable as a decorator).

    A shorthand for a plugin whose ``register_thetas`` hook registers ``fn``
    (:func:`vsodboost.plugins.register_plugin`); it lasts until ``vsodboost.plugins.reset()``. A package
    registers its Θs through the hook and its entry point instead.

    Raises:
        DuplicateNameError: ``name`` is registered already, unless ``replace=True`` and it was registered by an
            earlier :func:`register_theta` (built-ins and plugins' Θs cannot be replaced).
        InputError: ``name`` is not a valid Θ name or ``fn`` is not callable.
    """

    def deco(f: Theta) -> Theta:
        from .. import plugins

        Registry("theta", dashes=True).register(name, f)  # the registry's name and callable checks, before any change
        owner_name = _RUNTIME + name
        reg = plugins.thetas()
        if name in reg:
            owner = reg.get(name).plugin
            if not (replace and owner == owner_name):
                how = ("only a Θ registered by register_theta can be replaced" if replace
                       else "pick another name, or pass replace=True to replace one registered by register_theta")
                raise DuplicateNameError(f"theta {name!r} is already registered by plugin {owner!r}; {how}")
            plugins.unregister_plugin(owner_name)

        @hookimpl
        def register_thetas(register: Callable[..., None]) -> None:
            register(name, lambda: f, description=(f.__doc__ or "").strip().split("\n")[0])

        plugins.register_plugin(types.SimpleNamespace(register_thetas=register_thetas), name=owner_name)
        return f

    return deco(fn) if fn is not None else deco


def list_thetas() -> list[str]:
    """Names of all registered Θs, in natural order."""
    from .. import plugins

    return plugins.thetas().names()


def get_theta(theta: str | Theta, **kwargs: Any) -> Theta:
    """A registered Θ by name (``"default"`` → :data:`DEFAULT_THETA`), built by its factory with ``kwargs``, or
    the callable itself. An unknown name raises :class:`~vsodboost.errors.UnknownNameError` listing the Θs."""
    if callable(theta):
        return theta
    from .. import plugins

    return plugins.thetas().create(DEFAULT_THETA if theta == "default" else theta, **kwargs)


def _check(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3 or x.dtype != torch.uint8:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"Θ expects colour-coded flow images uint8 (B,3,H,W); got {got}")
    return x.float() / 255.0


def _minmax(s: torch.Tensor) -> torch.Tensor:
    lo = s.amin(dim=(1, 2), keepdim=True)
    hi = s.amax(dim=(1, 2), keepdim=True)
    return torch.where(hi > lo, (s - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(s))


def border_contrast(flow_images: torch.Tensor, border: float = 0.05, smooth: int = 5) -> torch.Tensor:
    """Colour distance of each pixel from the median colour of the image border, min-max normalised.

    Why: in a colour-coded flow image the border is mostly background, whose colour is the camera motion (white
    when static); an object that moves differently has another hue or saturation. This is the classic boundary
    prior of image saliency, training-free, applied to the flow image as Eq. 1 prescribes.
    """
    x = _check(flow_images)
    b, _, h, w = x.shape
    bw = max(1, round(border * min(h, w)))
    mask = torch.zeros(h, w, dtype=torch.bool, device=x.device)
    mask[:bw], mask[-bw:], mask[:, :bw], mask[:, -bw:] = True, True, True, True
    ref = x[:, :, mask].median(dim=2).values  # (B,3)
    d = (x - ref[:, :, None, None]).norm(dim=1) / 3 ** 0.5
    if smooth > 1:  # a small box filter removes DIS's isolated outlier pixels
        d = F.avg_pool2d(d[:, None], smooth, 1, smooth // 2, count_include_pad=False)[:, 0]
    return _minmax(d)


def border_contrast_center(flow_images: torch.Tensor, sigma: float = 0.3) -> torch.Tensor:
    """:func:`border_contrast` weighted by a centred Gaussian (the centre bias of classic image saliency)."""
    return _minmax(border_contrast(flow_images) * _gaussian(flow_images, sigma))


class SpatialTheta:
    """The paper's recipe: an RGB saliency model (a registered spatial model, default: the saliency-pretrained
    ``"default"``) applied to the flow image. Needs that model's weights.

    The network is built on this object's first call and kept per device for this object's life only: the
    registry builds a new ``SpatialTheta`` for every ``get_theta("spatial")``, so nothing keeps it alive after
    its caller drops it."""

    def __init__(self, spatial: str = "default", batch_size: int = 8, **kwargs: object) -> None:
        self.spatial, self.batch_size, self.kwargs = spatial, batch_size, kwargs
        self._nets: dict[torch.device, torch.nn.Module] = {}

    def _net(self, device: torch.device) -> torch.nn.Module:
        if device not in self._nets:
            from .. import plugins

            self._nets[device] = plugins.registry("spatial").create(self.spatial, **self.kwargs).to(device).eval()
        return self._nets[device]

    @torch.no_grad()
    def __call__(self, flow_images: torch.Tensor) -> torch.Tensor:
        x = _check(flow_images)
        net = self._net(x.device)
        h, w = x.shape[-2:]
        size = getattr(getattr(net, "config", None), "input_size", (256, 256))
        size = (size, size) if isinstance(size, int) else tuple(size)  # U²-Net: 320; the U-Net: (H, W)
        maps = []
        for chunk in x.split(self.batch_size):  # a 100-frame buffer at once would need > 10 GB for U²-Net-p
            out = net(F.interpolate(chunk, size=size, mode="bilinear", align_corners=False, antialias=True))
            logits = out[0] if isinstance(out, tuple) else out
            maps.append(torch.sigmoid(F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False))[:, 0])
        return _minmax(torch.cat(maps))


def saturation(flow_images: torch.Tensor) -> torch.Tensor:
    """Colour saturation of the flow image, i.e. the flow magnitude over the frame's maximum (Middlebury coding:
    white = no motion). A baseline: it marks whatever moves most, camera motion included."""
    x = _check(flow_images)
    return _minmax(x.amax(dim=1) - x.amin(dim=1))


def center_prior(flow_images: torch.Tensor, sigma: float = 0.25) -> torch.Tensor:
    """A centred Gaussian that ignores the flow: the null Θ, to tell what any flow-based Θ adds."""
    return _minmax(_gaussian(flow_images, sigma))


def _gaussian(flow_images: torch.Tensor, sigma: float) -> torch.Tensor:
    x = _check(flow_images)
    b, _, h, w = x.shape
    yy = (torch.arange(h, device=x.device, dtype=torch.float32) + 0.5) / h - 0.5
    xx = (torch.arange(w, device=x.device, dtype=torch.float32) + 0.5) / w - 0.5
    g = torch.exp(-(yy[:, None] ** 2 + xx[None, :] ** 2) / (2 * sigma**2))
    return g.expand(b, h, w).contiguous()
