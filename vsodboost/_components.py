"""The Booster's components from what a user passes: a name (looked up in the registries), a path, or an object."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

import torch

from . import plugins
from ._checks import check_components
from .config import BoostConfig
from .errors import InputError
from .target import TargetModel

__all__ = ["build_config", "build_target", "build_flow", "build_mqpm", "build_spatial", "notify"]


def build_target(target: Any, device: str | torch.device = "cpu") -> TargetModel:
    """A :class:`TargetModel`, or the name of a registered target buildable without arguments; None: the
    default target (:data:`vsodboost.target.DEFAULT_TARGET`, the shipped U²-Net-p) on ``device``."""
    if target is None:
        from .target import DEFAULT_TARGET

        target = plugins.targets().create(DEFAULT_TARGET, device=device)
    if isinstance(target, str):
        try:
            target = plugins.targets().create(target)
        except TypeError as exc:  # e.g. "precomputed" needs its maps folder
            raise InputError(f"target {target!r} cannot be built from its name alone ({exc}); build it with its "
                             f"arguments, e.g. adapters.{target}(...)") from exc
    if not isinstance(target, TargetModel):
        raise InputError(f"target {target!r} does not follow the TargetModel protocol: it needs a `name` "
                         "attribute and a `predict(video)` method (see vsodboost.target)")
    return target


def build_flow(flow: Any, device: torch.device) -> Any:
    """A flow backend (or its registry name), moved to ``device`` when it can be."""
    if isinstance(flow, str):
        from .flow import create_flow

        flow = create_flow(flow)
    return flow.to(device) if hasattr(flow, "to") else flow


def build_mqpm(mqpm: Any, device: torch.device) -> Any:
    """An MQPM predictor, ``"default"`` (the shipped weights) or a checkpoint path."""
    if isinstance(mqpm, (str, os.PathLike)):
        from .mqpm import load_mqpm

        return load_mqpm(mqpm, device=device)
    return mqpm


def build_spatial(spatial: Any, device: torch.device, *, flow: Any, mqpm: Any) -> torch.nn.Module:
    """A spatial model (``nn.Module``) or its registry name, on ``device``, in eval mode; first the three resolved
    components are checked (:func:`~vsodboost._checks.check_components`): a wrong object fails here, not
    mid-buffer."""
    if isinstance(spatial, (str, os.PathLike)):
        from .spatial import load_spatial

        spatial = load_spatial(spatial)  # a registry name or a checkpoint (e.g. from `vsodboost train spatial`)
    check_components(flow, mqpm, spatial)
    return spatial.to(device).eval()


def build_config(preset: str | None, config: BoostConfig | Mapping[str, Any] | None,
                 device: torch.device) -> tuple[Any, BoostConfig]:
    """The preset (default ``quality``) and the config: the preset's fields, then the caller's — a mapping's
    keys, or the fields a :class:`BoostConfig` was made with (:meth:`BoostConfig.set_fields`); checked against
    ``device``: ``finetune.autocast="auto"`` becomes ``"bf16"`` or ``"off"`` here, once, so a run records and resumes
    by what it computes with (:func:`~vsodboost.spatial.finetune.resolve_autocast`)."""
    from .presets import DEFAULT_PRESET, get_preset, merge_config  # presets name spatial models: import late
    from .spatial.finetune import resolve_autocast

    if preset is not None and not isinstance(preset, str):  # ["fast"] would fail as "unhashable" in the lookup
        raise InputError(f"preset must be a preset name (a string) such as 'fast', got {preset!r} "
                         f"({type(preset).__name__})")
    chosen = get_preset(preset or DEFAULT_PRESET)
    if config is not None and not isinstance(config, (BoostConfig, Mapping)):
        raise InputError(f"config must be a BoostConfig or a mapping of its fields, got {type(config).__name__}")
    given = config.set_fields() if isinstance(config, BoostConfig) else dict(config or {})
    config = BoostConfig.from_dict(merge_config(chosen.config, given))
    return chosen, dataclasses.replace(config, finetune=resolve_autocast(config.finetune, device))


def notify(observers: Any, event: str, *args: Any) -> None:
    """Call ``observer.<event>(*args)`` on each observer that defines it (``on_mined``, ``on_buffer``)."""
    for obs in observers:
        hook = getattr(obs, event, None)
        if callable(hook):
            hook(*args)
