"""Built-in flow backends, registered through the same ``register_flows`` hook as third-party ones.

Deep backends default to their published weights (the first listed variant). ``create_flow`` drops keyword
arguments set to None, so random initialisation is spelled ``weights="random"`` there (the classes also accept
``weights=None``).
"""

from __future__ import annotations

from typing import Any, Callable

from ..hookspecs import hookimpl

RANDOM = "random"


def _w(weights: Any) -> Any:
    return None if weights == RANDOM else weights


def _dis(**kw: Any) -> Any:
    from .opencv import DISFlow

    return DISFlow(**kw)


def _farneback(**kw: Any) -> Any:
    from .opencv import FarnebackFlow

    return FarnebackFlow(**kw)


def _spynet(weights: Any = "sintel-final", **kw: Any) -> Any:
    from .spynet import SPyNet

    return SPyNet(_w(weights), **kw)


def _pwcnet(weights: Any = "default", **kw: Any) -> Any:
    from .pwcnet import PWCNet

    return PWCNet(_w(weights), **kw)


def _liteflownet(weights: Any = "default", **kw: Any) -> Any:
    from .liteflownet import LiteFlowNet

    return LiteFlowNet(_w(weights), **kw)


def _raft(arch: str) -> Callable[..., Any]:
    def factory(weights: Any = "DEFAULT", **kw: Any) -> Any:
        from .raft import RAFTFlow

        return RAFTFlow(arch, _w(weights), **kw)

    factory.__name__ = f"_{arch}"
    return factory


@hookimpl
def register_flows(register: Callable[..., None]) -> None:
    register("dis", _dis, description="OpenCV DIS (CPU, no weights; the default)", needs_weights=False)
    register("farneback", _farneback, description="OpenCV Farnebäck (CPU, no weights)", needs_weights=False)
    register("spynet", _spynet, description="SPyNet, pure PyTorch (sniklaus weights; research only)",
             needs_weights=True)
    register("pwcnet", _pwcnet, description="PWC-Net, pure PyTorch correlation (sniklaus weights; CC BY-NC-SA)",
             needs_weights=True)
    register("liteflownet", _liteflownet,
             description="LiteFlowNet, pure PyTorch correlation (sniklaus weights; research only)",
             needs_weights=True)
    register("raft_small", _raft("raft_small"), description="torchvision RAFT small (torchvision weights)",
             needs_weights=True)
    register("raft_large", _raft("raft_large"), description="torchvision RAFT large (torchvision weights)",
             needs_weights=True)
