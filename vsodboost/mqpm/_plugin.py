"""Built-in Θs of Eq. 1, registered through the same ``register_thetas`` hook as third-party ones."""

from __future__ import annotations

import functools
from typing import Any, Callable

from ..hookspecs import hookimpl


def _fixed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The factory of a plain Θ function: keyword arguments bind its parameters (``get_theta(name, smooth=3)``)."""
    return lambda **params: functools.partial(fn, **params) if params else fn


@hookimpl
def register_thetas(register: Callable[..., None]) -> None:
    from . import theta as t

    register("border-contrast", _fixed(t.border_contrast),
             description="colour distance from the flow image's border median (training-free)")
    register("border-contrast-center", _fixed(t.border_contrast_center),
             description="border-contrast × centred Gaussian: the default (docs/mqpm.md)")
    register("spatial", t.SpatialTheta,
             description="a registered spatial model (default: 'default') on the flow image: the paper's recipe")
    register("saturation", _fixed(t.saturation), description="flow-image saturation (flow magnitude): a baseline")
    register("center", _fixed(t.center_prior), description="centred Gaussian ignoring the flow: the null Θ")
