"""The plugin manager: built-in and third-party components register through the same pluggy hooks.

Third-party plugins are the entry points of the ``vsodboost`` group. ``VSODBOOST_LOAD_PLUGINS`` limits which of
them load: a comma-separated list of entry-point names (or distribution names); set and empty means none. A plugin
that fails to import, or whose hook raises, produces a warning naming it and the SDK keeps working without it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import warnings
from typing import Any, Callable

import pluggy

from . import hookspecs
from ._registry import Registry
from .errors import PluginError, VsodboostError

__all__ = ["BUILTIN_PLUGINS", "get_plugin_manager", "registry", "targets", "flows", "spatial_models", "encoders",
           "thetas", "reset"]

#: Modules that provide the built-in components, loaded like any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "vsodboost.adapters._builtin",
    "vsodboost.flow._plugin",
    "vsodboost.spatial._plugin",
    "vsodboost.models._plugin",
    "vsodboost.mqpm._plugin",
)

ENTRY_POINT_GROUP = "vsodboost"
_HOOKS = {"target": "register_targets", "flow": "register_flows", "spatial": "register_spatial_models",
          "encoder": "register_encoders", "theta": "register_thetas"}
_DASHED = {"theta"}  # Θ names keep their historical '-' (Registry(dashes=True))

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_registries: dict[str, Registry[Any]] | None = None


class PluginLoadWarning(UserWarning):
    """A third-party plugin could not be loaded or registered; the SDK continues without it."""


def _allowed_plugins() -> set[str] | None:
    raw = os.environ.get("VSODBOOST_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = _allowed_plugins()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ""
        if allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the SDK down
            warnings.warn(
                f"vsodboost plugin {ep.name!r} ({ep.value}, from {dist or 'unknown distribution'}) failed to load "
                f"and is skipped: {type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=3,
            )


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created lazily on first use."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager("vsodboost")
            pm.add_hookspecs(hookspecs)
            for modname in BUILTIN_PLUGINS:
                pm.register(importlib.import_module(modname), name=modname)
            _load_entry_points(pm)
            _pm = pm
        return _pm


def _collect(kind: str) -> Registry[Any]:
    pm = get_plugin_manager()
    reg: Registry[Any] = Registry(kind, dashes=kind in _DASHED)
    hook = getattr(pm.hook, _HOOKS[kind])
    # get_hookimpls() is in registration order (pluggy *calls* them in reverse). Built-ins go first so that a
    # third-party plugin reusing a built-in name is the one skipped with a warning, not the built-in.
    impls = sorted(hook.get_hookimpls(), key=lambda i: pm.get_name(i.plugin) not in BUILTIN_PLUGINS)
    for impl in impls:
        plugin_name = pm.get_name(impl.plugin) or repr(impl.plugin)

        def register(name: str, factory: Callable[..., Any], *, description: str = "", _p: str = plugin_name,
                     **meta: Any) -> None:
            reg.register(name, factory, plugin=_p, description=description, **meta)

        try:
            impl.function(register=register)
        except VsodboostError as exc:
            if plugin_name in BUILTIN_PLUGINS:
                raise
            warnings.warn(f"vsodboost plugin {plugin_name!r}: {exc}", PluginLoadWarning, stacklevel=3)
        except Exception as exc:
            if plugin_name in BUILTIN_PLUGINS:
                raise PluginError(f"built-in plugin {plugin_name} failed to register {kind}s: {exc}") from exc
            warnings.warn(
                f"vsodboost plugin {plugin_name!r} raised {type(exc).__name__} while registering {kind}s and is "
                f"skipped: {exc}",
                PluginLoadWarning,
                stacklevel=3,
            )
    return reg


def registry(kind: str) -> Registry[Any]:
    """The registry of ``kind`` (``"target"``, ``"flow"``, ``"spatial"``, ``"encoder"`` or ``"theta"``), built once
    from all plugins."""
    global _registries
    if kind not in _HOOKS:
        raise PluginError(f"unknown registry kind {kind!r}; expected one of {sorted(_HOOKS)}")
    with _lock:
        if _registries is None:
            _registries = {k: _collect(k) for k in _HOOKS}
        return _registries[kind]


def targets() -> Registry[Any]:
    return registry("target")


def flows() -> Registry[Any]:
    return registry("flow")


def spatial_models() -> Registry[Any]:
    return registry("spatial")


def encoders() -> Registry[Any]:
    return registry("encoder")


def thetas() -> Registry[Any]:
    return registry("theta")


def register_plugin(module: Any, name: str | None = None) -> None:
    """Register a plugin object at run time (e.g. a module of your own) and rebuild the registries."""
    global _registries
    with _lock:
        get_plugin_manager().register(module, name=name)
        _registries = None


def unregister_plugin(name: str) -> None:
    global _registries
    with _lock:
        get_plugin_manager().unregister(name=name)
        _registries = None


def reset() -> None:
    """Forget the plugin manager and registries (they are rebuilt on next use). Mostly for tests."""
    global _pm, _registries
    with _lock:
        _pm = None
        _registries = None
