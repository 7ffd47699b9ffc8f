"""What makes two components give the same maps: the identities a run's resume key (``vsodboost.runner``) and a
target-map cache (``vsodboost.target_cache``) compare, so both refuse the same changes (docs/reliability.md).

- :func:`weights_identity`: the sha256 of a component's state dict when it holds modules (a model built without a
  weights file, or changed after loading, is caught), else its provenance sha256, else its address-free repr;
- :func:`target_identity`: a target's own ``identity()`` when it has one, else its type, repr and weights.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Mapping

import torch

from .errors import TargetError

__all__ = ["target_identity", "weights_identity", "flow_identity", "stable_repr", "jsonable"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_repr(obj: Any) -> str:
    """``repr`` without memory addresses (they change every run); long ones are hashed."""
    text = _ADDRESS.sub("", repr(obj))
    return text if len(text) <= 1000 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _state_dict_sha(modules: list[torch.nn.Module]) -> str:
    h = hashlib.sha256()
    for mod in modules:
        for k, v in mod.state_dict().items():
            v = v.detach().cpu().contiguous().reshape(-1)
            h.update(f"{k}|{v.dtype}|{v.numel()}|".encode())
            h.update(v.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _modules_of(obj: Any, depth: int = 2) -> list[torch.nn.Module]:
    """``obj`` itself when it is a module, else the modules among its attributes (two levels deep)."""
    if isinstance(obj, torch.nn.Module):
        return [obj]
    if depth == 0 or not hasattr(obj, "__dict__"):
        return []
    found: list[torch.nn.Module] = []
    for k in sorted(vars(obj)):
        found += _modules_of(vars(obj)[k], depth - 1)
    return found


def weights_identity(component: Any) -> str:
    """What identifies a component's weights: the sha256 of its state dict when it holds modules (catches models
    built without a weights file, and models changed after loading), else its provenance sha256, else its repr."""
    mods = _modules_of(component)
    if mods:
        return "state_dict:" + _state_dict_sha(mods)
    prov = getattr(component, "provenance", None)
    if isinstance(prov, dict) and prov.get("sha256"):
        return "sha256:" + str(prov["sha256"])
    return "repr:" + stable_repr(component)


def jsonable(x: Any) -> Any:
    """``x`` as JSON would give it back (tuples become lists, anything else its ``str``): what a key compares."""
    return json.loads(json.dumps(x, default=str))


def target_identity(target: Any) -> dict[str, Any]:
    """The target's identity for the resume key: its ``identity()`` when it has one (maps root and options of a
    maps-mode adapter, weights of a live one), else its type, address-free repr and weights."""
    ident = getattr(target, "identity", None)
    ident = ident() if callable(ident) else None
    if ident is not None:  # None: the target defers to the generic identity below
        if not isinstance(ident, Mapping):
            raise TargetError(f"target {target.name!r}: identity() returned {type(ident).__name__}; expected a dict "
                              "(JSON-serialisable) saying what makes two instances give the same maps, or None")
        return jsonable({"name": target.name, **dict(ident)})
    out: dict[str, Any] = {"name": target.name, "type": f"{type(target).__module__}.{type(target).__qualname__}",
                           "repr": stable_repr(target)}
    if _modules_of(target) or isinstance(getattr(target, "provenance", None), dict):
        out["weights"] = weights_identity(target)
    return jsonable(out)


def flow_identity(flow: Any) -> Any:
    """A flow backend's repr (backend and options); deep backends add their weights' state-dict hash."""
    return {"repr": stable_repr(flow), "weights": weights_identity(flow)} if _modules_of(flow) else stable_repr(flow)
