"""Built-in flow backends, registered through the same ``register_flows`` hook as third-party ones."""

from __future__ import annotations

from typing import Any, Callable

from ..hookspecs import hookimpl


def _dis(**kw: Any) -> Any:
    from .opencv import DISFlow

    return DISFlow(**kw)


def _farneback(**kw: Any) -> Any:
    from .opencv import FarnebackFlow

    return FarnebackFlow(**kw)


@hookimpl
def register_flows(register: Callable[..., None]) -> None:
    register("dis", _dis, description="OpenCV DIS (CPU, no weights; the default)", needs_weights=False)
    register("farneback", _farneback, description="OpenCV Farnebäck (CPU, no weights)", needs_weights=False)
