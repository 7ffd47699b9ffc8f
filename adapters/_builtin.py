"""Built-in targets, registered through the same hook as third-party plugins."""

from __future__ import annotations

from typing import Callable

from vsodboost.hookspecs import hookimpl

from . import cos, image, lsti, mga, pcsa, precomputed, ssav, u2netp
from .methods import METHODS


@hookimpl
def register_targets(register: Callable[..., None]) -> None:
    register("precomputed", precomputed, description="published maps of any method: <root>/<seq>/<stem>.png")
    for fn in (ssav, mga, cos, lsti, pcsa):
        spec = METHODS[fn.__name__]
        mode = "maps + live" if spec.live else "maps"
        register(fn.__name__, fn, description=f"{spec.title} [{mode}]")
    register("u2netp", u2netp, description="U²-Net-p image saliency, DUTS weights shipped [live, offline]")
    register("image", image, description="any image saliency model live: --target-arg spatial=lite0|u2netp|FILE.pt "
             "(self-boosting) [live, offline]")
