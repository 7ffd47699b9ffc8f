"""Named Booster configurations: a spatial model and the fine-tuning recipe measured for it.

``Booster(target, preset="fast")`` or ``vsodboost boost ... --preset fast``. A preset fills in the spatial
model and the :class:`~vsodboost.booster.BoostConfig` fields it names; anything passed explicitly
(``spatial=``, the keys of a ``config`` dict or the fields a ``BoostConfig`` was made with) wins over the
preset. Every number quoted here comes from ``docs/booster.md`` (cross-validated on ``../shared/data``,
frame-averaged, pysodmetrics conventions).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import UnknownNameError

__all__ = ["Preset", "PRESETS", "DEFAULT_PRESET", "get_preset", "merge_config"]


@dataclass(frozen=True)
class Preset:
    """A spatial model (registry name) and the :class:`BoostConfig` fields that go with it."""

    name: str
    spatial: str
    config: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""


PRESETS: dict[str, Preset] = {
    "quality": Preset(
        "quality", "u2netp_davis", {"finetune": {"predict_size": 320}},
        "U²-Net-p (DUTS, then DAVIS-TR: the paper's video-domain prior, shipped) fine-tuned per buffer at 224², "
        "predicting at its own 320², its map fused with the target's by their agreement with the motion saliency "
        "(fusion 'motion'): the default (BoostConfig's defaults otherwise)",
    ),
    "fast": Preset(
        "fast", "lite0", {"fusion": "geometric",
                          # fine-tuning at 160², predicting at the model's 224², in float32: bf16 is slower than
                          # float32 for this small network on the CPU (docs/booster.md, "Speed levers")
                          "finetune": {"input_size": 160, "predict_size": 224, "iterations": 30,
                                       "deep_supervision": False, "autocast": "off"}},
        "the Lite0 U-Net (saliency-pretrained, shipped): about 4× cheaper than quality on CPU (14 s vs 53 s a "
        "buffer), fused with the target",
    ),
    "paper": Preset(
        "paper", "u2netp_davis", {"fusion": "replace", "period": 5,
                                  "finetune": {"loss": "bce", "pseudo_gt": "soft", "predict_size": 320}},
        "the paper's configuration as closely as our weights allow: a spatial model pretrained on DAVIS-TR (Sec. V-C; "
        "U²-Net-p, DUTS then DAVIS-TR) whose map replaces the target's, BCE only, T = 1/5 (docs/booster.md lists "
        "what still differs)",
    ),
}

DEFAULT_PRESET = "quality"


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (:class:`~vsodboost.errors.UnknownNameError` listing the others)."""
    if name not in PRESETS:
        raise UnknownNameError(f"unknown preset {name!r}; choose from {sorted(PRESETS)} (see vsodboost.presets)")
    return PRESETS[name]


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, one level deep for the nested ``finetune`` mapping. A preset's
    ``finetune.predict_size`` goes with its training size: an override that sets ``input_size`` without
    ``predict_size`` predicts at its own ``input_size`` (``predict_size`` 0), not at the preset's 320."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if k == "finetune" and isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            merged = {**out[k], **v}
            if "input_size" in v and "predict_size" not in v:
                merged.pop("predict_size", None)
            out[k] = merged
        else:
            out[k] = v
    return out
