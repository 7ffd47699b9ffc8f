"""The pipeline's configuration: :class:`BoostConfig` and its fine-tuning recipe :class:`FinetuneConfig`.

Both are frozen dataclasses, checked once, at construction (type, range, finiteness, choices — docs/reliability.md):
a config that exists is valid. To change a field, make a new one with :func:`dataclasses.replace` (checked again)
or ``BoostConfig.from_dict({**cfg.to_dict(), "period": 3})``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Mapping, TypeVar, get_args, get_type_hints

from ._checks import check_bool, check_choice, check_float, check_int
from .errors import InputError

__all__ = ["BoostConfig", "FinetuneConfig", "Fusion"]

Fusion = Literal["motion", "mean", "geometric", "replace"]


@functools.cache
def _choices(cls: type, name: str) -> tuple[str, ...]:
    """The values a ``Literal`` field of ``cls`` allows, read from its annotation: one home for each set of choices."""
    return get_args(get_type_hints(cls)[name])


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalise a field of a frozen dataclass while it is being checked


_C = TypeVar("_C")


def _records_fields_set(cls: type[_C]) -> type[_C]:
    """Remember which fields the constructor was given (``fields_set``), as pydantic does: a preset lays only
    those over its own values (``Booster(preset="paper", config=BoostConfig(buffer_size=50))`` keeps the
    paper's fusion). ``dataclasses.replace`` and ``from_dict`` of a full dict give every field, so such
    configs win whole."""
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    names = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        object.__setattr__(self, "_fields_set", frozenset(names[:len(args)]) | frozenset(kwargs))

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


@_records_fields_set
@dataclass(frozen=True)
class FinetuneConfig:
    """How a fresh copy of the spatial model learns from the mined frames (Sec. V-C; values: docs/booster.md)."""

    iterations: int = 30
    batch_size: int = 4
    lr: float = 1e-4
    weight_decay: float = 0.0
    input_size: int = 224  # square side the model trains and predicts at (multiple of 32; pretrained at 224)
    hflip: bool = True
    scale_jitter: float = 0.15  # random crop keeping ≥ (1 − jitter) of each side; 0 disables
    loss: Literal["bce", "bce+iou"] = "bce+iou"
    # the mined frames' pseudo-GT: the target maps as they are ("soft"), binarised by Otsu ("otsu", the authors'
    # sibling repo), or averaged with the spatial model's own maps before fine-tuning ("blend": Booster only)
    pseudo_gt: Literal["soft", "otsu", "blend"] = "soft"
    train_layers: Literal["all", "decoder"] = "all"
    deep_supervision: bool = True  # models returning (fused, side maps) in training (U²-Net) learn on every side map
    grad_clip: float = 0.5  # as the authors' code (clip by value)
    predict_batch: int = 8
    # square side the fine-tuned model predicts at; 0: input_size. The quality and paper presets set 320, U²-Net-p's
    # own size: +.009 maxF on DAVIS, +.001 on ViSal against 224 (docs/booster.md, "The numbers to quote")
    predict_size: int = 0
    # "bf16": the forward passes of fine-tuning and prediction under torch.autocast(bfloat16); "off": float32; "auto"
    # (default): bf16 where the hardware computes it natively (CUDA with bf16, a CPU with AVX512-BF16 or AMX) and the
    # input is large enough for the CPU's bf16 kernels, else float32 — resolved once, when the Booster is built, and
    # recorded (spatial.finetune.resolve_autocast). Measured: docs/booster.md, "Speed levers"
    autocast: Literal["off", "bf16", "auto"] = "auto"
    # the spatial model and its inputs in channels-last memory format while fine-tuning and predicting: the CPU's
    # oneDNN convolutions run 1.4-2x faster on it (same arithmetic up to float rounding; docs/booster.md)
    channels_last: bool = True

    def __post_init__(self) -> None:
        w = "finetune."
        _set(self, "iterations", check_int(w + "iterations", self.iterations, lo=0))
        _set(self, "batch_size", check_int(w + "batch_size", self.batch_size, lo=1))
        _set(self, "lr", check_float(w + "lr", self.lr, lo=0.0, lo_open=True, hint=" (1e-4 is the default)"))
        _set(self, "weight_decay", check_float(w + "weight_decay", self.weight_decay, lo=0.0))
        _set(self, "input_size", check_int(w + "input_size", self.input_size, lo=64))
        _set(self, "predict_size", check_int(w + "predict_size", self.predict_size, lo=0))
        if self.predict_size and self.predict_size % 32:
            raise InputError(f"finetune.predict_size must be 0 (= input_size) or a multiple of 32, got "
                             f"{self.predict_size}")
        if self.input_size % 32:
            raise InputError(f"finetune.input_size must be a multiple of 32 and ≥ 64, got {self.input_size}")
        check_bool(w + "hflip", self.hflip)
        _set(self, "scale_jitter", check_float(w + "scale_jitter", self.scale_jitter, lo=0.0, hi=1.0, hi_open=True))
        check_choice(w + "loss", self.loss, _choices(FinetuneConfig, "loss"))
        check_choice(w + "pseudo_gt", self.pseudo_gt, _choices(FinetuneConfig, "pseudo_gt"))
        check_choice(w + "train_layers", self.train_layers, _choices(FinetuneConfig, "train_layers"))
        check_bool(w + "deep_supervision", self.deep_supervision)
        _set(self, "grad_clip", check_float(w + "grad_clip", self.grad_clip, lo=0.0, hint=" (0 disables clipping)"))
        _set(self, "predict_batch", check_int(w + "predict_batch", self.predict_batch, lo=1))
        check_choice(w + "autocast", self.autocast, _choices(FinetuneConfig, "autocast"))
        check_bool(w + "channels_last", self.channels_last)

    def predict_args(self) -> dict[str, Any]:
        """How :func:`~vsodboost.spatial.finetune.predict_maps` runs under this config (size, batch, autocast,
        memory format); an ``autocast`` of ``"auto"`` is resolved by the Booster before it gets here."""
        return {"input_size": self.predict_size or self.input_size, "batch": self.predict_batch,
                "autocast_mode": self.autocast, "channels_last": self.channels_last}


@_records_fields_set
@dataclass(frozen=True)
class BoostConfig:
    """Every knob of the pipeline, with the defaults measured in docs/booster.md."""

    buffer_size: int = 100  # frames per buffer (the paper: ≤ 100)
    period: int = 5  # keep one frame per `period` consecutive HQ frames (the paper's T = 1/5, Sec. V-B)
    hq_threshold: float = 0.5  # HQ when the MQPM probability reaches this (Sec. V-A)
    flow_last: Literal["backward", "repeat"] = "backward"  # flow of the buffer's last frame
    flow_max_side: int = 480  # frames are downscaled to this longest side for flow (0: full resolution)
    consistency_size: int = 128  # side at which S-measure consistency is computed
    # longest side frames are held at for the whole pipeline (0: full resolution); maps are upsampled to the frame's
    # size when read or written. Bounds memory for 4K frames; DAVIS, ViSal and 720p fit and are unchanged
    # (vsodboost/workres.py, docs/reliability.md)
    work_max_side: int = 1280
    # where the target has a map (vsodboost/fusion.py, docs/booster.md): "motion" (default: w · boosted +
    # (1 − w) · target, w = clip(1/2 + fusion_gain · (c_boosted − c_target), 0, 1), c: each map's S-measure
    # agreement with the MQPM's motion saliency, Sec. V-B), "mean" ((boosted + target) / 2), "replace" (the
    # paper: the boosted map only; the paper preset) or "geometric" (sqrt(boosted · target): the fast preset's)
    fusion: Fusion = "motion"
    fusion_gain: float = 8.0  # the "motion" rule's tilt per unit of consistency difference (0: the mean)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if isinstance(self.finetune, Mapping):
            known = {f.name for f in dataclasses.fields(FinetuneConfig)}
            unknown = set(self.finetune) - known
            if unknown:
                raise InputError(f"unknown finetune keys {sorted(map(str, unknown))}; known: {sorted(known)}")
            _set(self, "finetune", FinetuneConfig(**self.finetune))
        _set(self, "buffer_size", check_int("buffer_size", self.buffer_size, lo=1,
                                            hint=" (frames per buffer, default 100)"))
        _set(self, "period", check_int("period (1/T)", self.period, lo=1, hint=" (the paper's T = 1/5 is period=5)"))
        _set(self, "hq_threshold", check_float("hq_threshold", self.hq_threshold, lo=0.0, hi=1.0))
        check_choice("flow_last", self.flow_last, _choices(BoostConfig, "flow_last"))
        _set(self, "flow_max_side", check_int("flow_max_side", self.flow_max_side, lo=0))
        if 0 < self.flow_max_side < 16:
            raise InputError(f"flow_max_side must be 0 (full resolution) or ≥ 16, got {self.flow_max_side}")
        _set(self, "consistency_size", check_int("consistency_size", self.consistency_size, lo=16,
                                                 hint=" (side of the S-measure consistency maps, default 128)"))
        _set(self, "work_max_side", check_int("work_max_side", self.work_max_side, lo=0,
                                              hint=" (0: full resolution; default 1280)"))
        if 0 < self.work_max_side < 64:
            raise InputError(f"work_max_side must be 0 (full resolution) or ≥ 64, got {self.work_max_side}")
        check_choice("fusion", self.fusion, _choices(BoostConfig, "fusion"))
        _set(self, "fusion_gain", check_float("fusion_gain", self.fusion_gain, lo=0.0,
                                              hint=" (the motion fusion's tilt; 0 gives the mean, default 8)"))
        if not isinstance(self.finetune, FinetuneConfig):
            raise InputError(f"finetune must be a FinetuneConfig or a dict of its fields, got "
                             f"{type(self.finetune).__name__}")

    def validate(self) -> None:
        """Kept for callers of earlier versions: a frozen config was checked when it was made, so this does
        nothing (fields cannot change afterwards)."""

    @classmethod
    def paper(cls) -> "BoostConfig":
        """The paper's configuration as closely as our weights allow (the ``paper`` preset's fields): the fine-tuned
        spatial model's map replaces the target's (Sec. V-C, no fusion), BCE only (Eq. 6 form), the target's soft
        maps as pseudo-GT, T = 1/5 (Table II), buffers of 100 frames. Use it with the preset's spatial model,
        ``Booster(target, preset="paper")``; docs/benchmarks.md lists what still differs from the paper and why."""
        from .presets import get_preset, merge_config

        return cls.from_dict(merge_config(cls().to_dict(), get_preset("paper").config))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BoostConfig":
        """A config from a mapping (a ``--config`` JSON object); unknown keys are refused, listing the known ones."""
        if not isinstance(d, Mapping):
            raise InputError(f"a config must be a mapping (dict / JSON object) of BoostConfig fields, got "
                             f"{type(d).__name__}; e.g. {{\"period\": 5, \"finetune\": {{\"iterations\": 30}}}}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown config keys {sorted(map(str, unknown))}; known: {sorted(known)}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def set_fields(self) -> dict[str, Any]:
        """The fields the caller gave when making this config (``finetune``: only its own given fields), as a
        dict a preset's values are updated by (:func:`vsodboost.presets.merge_config`). A field left
        out keeps the preset's value even where it equals BoostConfig's default; name it to force it
        (``BoostConfig(fusion="mean")``)."""
        given = getattr(self, "_fields_set", None)
        names = [f.name for f in dataclasses.fields(self)]
        if given is None or set(names) <= given:
            return self.to_dict()  # every field given (dataclasses.replace, a full dict): it wins whole
        out: dict[str, Any] = {}
        for name in sorted(given):
            value = getattr(self, name)
            if name == "finetune":
                ft_given = getattr(value, "_fields_set", None)
                ft = asdict(value)
                value = ft if ft_given is None else {k: ft[k] for k in sorted(ft_given)}
            out[name] = value
        return out
