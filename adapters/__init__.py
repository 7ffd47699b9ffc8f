"""Target-model adapters: ``adapters.ssav()``, ``adapters.mga(maps=ROOT)``, ``adapters.precomputed(ROOT)`` …

Any registered target, built-in or from a third-party plugin, resolves as ``adapters.<name>(**kwargs)``.
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Any

from vsodboost._deprecated import moved_names as _moved_names

from .methods import METHODS, MethodSpec, MethodTarget, make_method
from .precomputed import PrecomputedTarget
from .image_live import ImageModelTarget
from .u2net_live import U2NetTarget

__all__ = [
    "precomputed", "ssav", "mga", "cos", "lsti", "pcsa", "u2netp", "image", "cached", "U2NetTarget", "ImageModelTarget",
    "MethodSpec", "MethodTarget", "METHODS", "PrecomputedTarget", "create", "available",
]


def precomputed(root: str | os.PathLike[str], **kwargs: Any) -> PrecomputedTarget:
    """Published maps of any method: ``<root>/<seq>/<stem>.<png|jpg|bmp>`` matched by stem."""
    return PrecomputedTarget(root, **kwargs)


def ssav(maps: str | os.PathLike[str] | None = None, **kwargs: Any) -> MethodTarget:
    """SSAV (Caffe): maps mode only."""
    return make_method("ssav", maps, **kwargs)


def mga(maps: str | os.PathLike[str] | None = None, **kwargs: Any) -> MethodTarget:
    """MGA: maps mode, or live with ``weights=`` (RGB + flow image, 512²)."""
    return make_method("mga", maps, **kwargs)


def cos(maps: str | os.PathLike[str] | None = None, **kwargs: Any) -> MethodTarget:
    """COSNet: maps mode, or live with ``weights=``."""
    return make_method("cos", maps, **kwargs)


def lsti(maps: str | os.PathLike[str] | None = None, **kwargs: Any) -> MethodTarget:
    """LSTI (MATLAB + Caffe): maps mode only."""
    return make_method("lsti", maps, **kwargs)


def pcsa(maps: str | os.PathLike[str] | None = None, **kwargs: Any) -> MethodTarget:
    """PCSA: maps mode, or live with ``weights=`` (T = 5 clips)."""
    return make_method("pcsa", maps, **kwargs)


def u2netp(weights: str | os.PathLike[str] | None = None, **kwargs: Any) -> U2NetTarget:
    """U²-Net-p live, with its authors' DUTS weights shipped in the package: a target that runs offline, now."""
    return U2NetTarget(weights, **kwargs)


def image(spatial: Any = "lite0", **kwargs: Any) -> ImageModelTarget:
    """Any image saliency model run live on every frame — a registered spatial model (``lite0``, ``u2netp``…), a
    checkpoint from ``vsodboost train spatial`` or an ``nn.Module``: boosting it turns it into a video model."""
    return ImageModelTarget(spatial, **kwargs)


def cached(target: Any, root: str | os.PathLike[str]) -> Any:
    """``target`` with its maps kept under ``root`` and read back on a rerun instead of recomputed
    (:class:`vsodboost.target_cache.CachedTarget`; ``vsodboost boost --target-cache DIR``)."""
    from vsodboost.target_cache import CachedTarget

    return CachedTarget(target, root)


def _show_options(fn: Any, impl: Any, drop: tuple[str, ...] = ()) -> None:
    """Give ``fn`` the signature of ``impl`` (its keyword options, annotations resolved): ``inspect.signature``
    then shows what ``**kwargs`` forwards, and ``--target-arg`` values are converted and checked against it."""
    sig = inspect.signature(impl, eval_str=True)
    fn.__signature__ = sig.replace(parameters=[p for k, p in sig.parameters.items() if k not in drop],
                                   return_annotation=inspect.signature(fn).return_annotation)


_show_options(precomputed, PrecomputedTarget)
for _fn in (ssav, mga, cos, lsti, pcsa):
    _show_options(_fn, make_method, drop=("method",))
_show_options(u2netp, U2NetTarget)
_show_options(image, ImageModelTarget)


def create(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build any registered target by name (see ``vsodboost plugins``), with its factory's arguments."""
    from vsodboost import plugins

    return plugins.targets().create(name, *args, **kwargs)


def _plugin_adapter(name: str, factory: Any, description: str) -> Any:
    """``adapters.<name>`` for a plugin's target: a function taking the factory's arguments (positional
    too) and showing its signature and docstring in ``help()``, as the built-in adapters do."""
    from vsodboost import plugins

    def adapter(*args: Any, **kwargs: Any) -> Any:
        return plugins.targets().create(name, *args, **kwargs)

    functools.update_wrapper(adapter, factory, updated=())  # a class factory: not its __dict__
    adapter.__name__ = adapter.__qualname__ = name
    if not adapter.__doc__:
        adapter.__doc__ = description or f"The {name!r} target, registered by a plugin."
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C callables have none: help() shows (*args, **kwargs)
        pass
    else:
        returns = factory if isinstance(factory, type) else sig.return_annotation  # a class builds itself
        adapter.__signature__ = sig.replace(return_annotation=returns)  # type: ignore[attr-defined]
    return adapter


def available() -> list[str]:
    from vsodboost import plugins

    return plugins.targets().names()


def __dir__() -> list[str]:
    """Module attributes plus every registered target (third-party plugins included)."""
    from vsodboost import plugins

    return sorted(set(globals()) | set(plugins.targets().names()))


# maps are read by vsodboost.io alone (read_map: uint8, read_unit_map: float); this alias goes in the next release
_moved = _moved_names(__name__, {"read_map": "vsodboost.io:read_unit_map"})


def __getattr__(name: str) -> Any:
    # `adapters.mymodel()` for targets registered by third-party plugins
    if name.startswith("_"):
        raise AttributeError(name)
    if name == "read_map":
        return _moved(name)
    from vsodboost import plugins

    reg = plugins.targets()
    if name in reg:
        entry = reg.get(name)
        return _plugin_adapter(name, entry.factory, entry.description)
    raise AttributeError(f"vsodboost.adapters has no target {name!r}; registered targets: {', '.join(reg.names())}")
