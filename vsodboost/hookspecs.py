"""pluggy hook specifications of vsodboost.

A plugin is a module with functions decorated by :data:`hookimpl` and an entry point in the ``vsodboost`` group::

    [project.entry-points.vsodboost]
    mymodel = "mymodel_plugin"

Each hook receives a ``register(name, factory, *, description="", **meta)`` callback. The built-in components
are registered through the same hooks.
"""

from __future__ import annotations

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("vsodboost")
hookimpl = pluggy.HookimplMarker("vsodboost")


@hookspec
def register_targets(register: Callable[..., None]) -> None:
    """Register target VSOD models: ``register("name", factory)`` where ``factory(**kw)`` returns a TargetModel."""


@hookspec
def register_flows(register: Callable[..., None]) -> None:
    """Register optical-flow backends: ``factory(**kw)`` returns a FlowBackend."""


@hookspec
def register_spatial_models(register: Callable[..., None]) -> None:
    """Register spatial saliency models: ``factory(**kw)`` returns an ``nn.Module`` mapping RGB to logits."""


@hookspec
def register_encoders(register: Callable[..., None]) -> None:
    """Register encoders of the shared U-Net (spatial model and MQPM, Fig. 6): ``register("name", spec)`` where
    ``spec`` is a :class:`vsodboost.models.EncoderSpec` (normalisation, ImageNet weights); calling it builds the
    ``features_only`` encoder, whose ``feature_info`` declares 5 stages at strides 2, 4, 8, 16, 32."""


@hookspec
def register_thetas(register: Callable[..., None]) -> None:
    """Register Θs of Eq. 1 (saliency of a colour-coded flow image): ``factory(**kw)`` returns a callable
    uint8 (B,3,H,W) → float (B,H,W) in [0, 1]. Names may contain '-' (``"border-contrast"``)."""
