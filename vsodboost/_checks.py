"""Field checks shared by the configuration dataclasses: type (``True`` is not an int), range, NaN/inf.

Each raises :class:`~vsodboost.errors.InputError` saying the field, what it got and what it expects.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

from .errors import InputError

__all__ = ["check_int", "check_float", "check_bool", "check_choice", "check_components"]


def _got(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(where: str, value: Any, *, lo: int | None = None, hi: int | None = None, hint: str = "") -> int:
    """An integer (not a bool, not a float) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{where} must be an integer, got {_got(value)}{hint}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"≥ {lo}" if hi is None else f"≤ {hi}" if lo is None else f"in [{lo}, {hi}]"
        raise InputError(f"{where} must be {rng}, got {value}{hint}")
    return value


def check_float(where: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False, hint: str = "") -> float:
    """A finite real number (int or float, not a bool) in the range; ``*_open`` excludes the bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{where} must be a number, got {_got(value)}{hint}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {value}{hint}")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
    if bad_lo or bad_hi:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        rng = f"in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise InputError(f"{where} must be {rng}, got {value}{hint}")
    return value


def check_bool(where: str, value: Any) -> bool:
    """``True`` or ``False`` exactly (``0``/``"yes"`` are refused: they hide typos in JSON configs)."""
    if not isinstance(value, bool):
        raise InputError(f"{where} must be true or false, got {_got(value)}")
    return value


def check_choice(where: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{where} must be one of {', '.join(repr(c) for c in choices)}, got {_got(value)}")
    return value


def check_components(flow: Any, mqpm: Any, spatial: Any) -> None:
    """The Booster's components, once resolved from names or paths, have what the Booster calls: a flow backend's
    ``estimate``, an MQPM's ``predict`` and a spatial model that is an ``nn.Module``; otherwise the first buffer
    would fail with a bare ``AttributeError`` after the target has run."""
    import torch

    if not callable(getattr(flow, "estimate", None)):
        raise InputError(f"flow {_got(flow)} is not a flow backend: it needs an `estimate(frames)` method (see "
                         "vsodboost.flow); pass a registry name such as 'dis' or a backend object")
    if not callable(getattr(mqpm, "predict", None)):
        raise InputError(f"mqpm {_got(mqpm)} is not an MQPM: it needs a `predict(flow_images)` method; pass "
                         "'default' (the shipped weights), a checkpoint path or an MQPM object")
    if not isinstance(spatial, torch.nn.Module):
        raise InputError(f"spatial {_got(spatial)} is not a spatial model: pass a torch nn.Module or a registry name "
                         "such as 'u2netp' or 'lite0'")
