"""Names that moved to their one home: a module ``__getattr__`` that still serves an old import for one release,
with a :class:`DeprecationWarning` naming the new place."""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Mapping


def moved_names(module: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module``: ``moved`` maps an old name to ``"home.module"`` (same name there)
    or ``"home.module:new_name"``; reading the old name warns and returns the object from its home.

    Example:
        >>> __getattr__ = moved_names(__name__, {"fuse_maps": "vsodboost.fusion"})
    """
    def __getattr__(name: str) -> Any:
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, _, new = moved[name].partition(":")
        new = new or name
        warnings.warn(f"{module}.{name} is deprecated and goes in the next release: import {new} from {home}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(home), new)
    return __getattr__
