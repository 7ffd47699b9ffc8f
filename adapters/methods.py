"""The five target methods our users named, with what an adapter must know about each (REFERENCE.md).

Each adapter works now in **maps mode**: it reads the method's published maps (``maps=ROOT``, or
``$VSODBOOST_HOME/<method>/``). Live inference (``weights=...``) is wired for the methods that have a PyTorch port
in :mod:`vsodboost.nets`; SSAV (Caffe) and LSTI (MATLAB + Caffe) stay in maps mode — a live port would need their
networks re-implemented in PyTorch and their Caffe weights converted by name.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vsodboost._weights import home_dir
from vsodboost.errors import InputError, MissingMapsError
from vsodboost.video import Video

from .precomputed import PrecomputedTarget

__all__ = ["MethodSpec", "METHODS", "MethodTarget", "make_method"]


@dataclass(frozen=True)
class MethodSpec:
    """Protocol of one VSOD method: how it reads a clip, how it preprocesses, where its maps are published."""

    name: str
    title: str
    framework: str
    clip_length: int  # frames the network sees at once
    clip_protocol: str
    input_size: tuple[int, int]  # (H, W) the network runs at
    colour_order: str  # "RGB" or "BGR"
    mean: tuple[float, float, float]
    std: tuple[float, float, float] | None
    value_scale: float  # pixels are divided by this before mean/std (1 for 0–255 inputs)
    needs_flow: bool
    output: str
    published_maps: str  # where the authors publish their maps, and for which datasets
    results_layout: str = "<dataset>/<seq>/<stem>.png"
    live: str | None = None  # dotted path of the live-inference class in vsodboost.nets, if any
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_CAFFE_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_ZERO = (0.0, 0.0, 0.0)

#: How each network reads a clip and preprocesses a frame, one row per method (the numbers of REFERENCE.md).
_PROTOCOL_FIELDS = ("clip_length", "needs_flow", "input_size", "colour_order", "mean", "std", "value_scale")
_PROTOCOL: dict[str, tuple[Any, ...]] = {
    "ssav": (3, False, (473, 473), "BGR", _CAFFE_MEAN_BGR, None, 1.0),
    "mga": (1, True, (512, 512), "RGB", _IMAGENET_MEAN, _IMAGENET_STD, 255.0),
    "cos": (6, False, (473, 473), "BGR", _CAFFE_MEAN_BGR, None, 1.0),
    "lsti": (7, True, (0, 0), "BGR", _ZERO, None, 1.0),
    "pcsa": (5, False, (256, 448), "RGB", _ZERO, (1.0, 1.0, 1.0), 255.0),
}

# The text fields of MethodSpec, one table per field, one entry per method (live and notes only where they apply).
_TITLE = {
    "ssav": "SSAV (Fan et al., CVPR 2019)",
    "mga": "MGA (Li et al., ICCV 2019)",
    "cos": "COSNet (Lu et al., CVPR 2019)",
    "lsti": "LSTI (Chen et al., TIP 2020)",
    "pcsa": "PCSA (Gu et al., AAAI 2020)",
}
_FRAMEWORK = {
    "ssav": "Caffe (ConvLSTM fork)",
    "mga": "PyTorch (MIT)",
    "cos": "PyTorch",
    "lsti": "MATLAB + Caffe",
    "pcsa": "PyTorch + custom CUDA op",
}
_CLIP_PROTOCOL = {
    "ssav": "3 consecutive frames, non-overlapping windows",
    "mga": "1 frame + its colour-coded optical flow image",
    "cos": "target frame + 5 reference frames; outputs averaged over references (the reference picks them at random; "
           "vsodboost picks evenly spaced, seeded)",
    "lsti": "batches of 7 frames with Coarse2Fine flow and superpixels",
    "pcsa": "clips of T = 5 frames",
}
_OUTPUT = {
    "ssav": "sigmoid of channel 1, min-max, resized back",
    "mga": "sigmoid, min-max, bilinear back to frame size",
    "cos": "sigmoid, resized back to the frame size (not the authors' fixed 480×854)",
    "lsti": "min-max, resized back",
    "pcsa": "sigmoid per frame, resized back",
}
_PUBLISHED_MAPS = {
    "ssav": "results of SSAV on DAVIS, FBMS, SegTrack-v2, ViSal, VOS, DAVSOD… from the DAVSOD repository "
            "(github.com/DengPingFan/DAVSOD)",
    "mga": "results on DAVIS, FBMS and ViSal (annotated frames only) from github.com/lhaof/Motion-Guided-Attention",
    "cos": "results on DAVIS, FBMS and YouTube-Objects from github.com/carrierlxk/COSNet",
    "lsti": "results on many VSOD datasets, released by the authors on Baidu Pan",
    "pcsa": "results on DAVIS, DAVSOD, FBMS, SegTrack-v2, ViSal, VOS from github.com/guyuchao/PyramidCSA",
}
_LIVE = {
    "mga": "vsodboost.nets.mga:MGALive",
    "cos": "vsodboost.nets.cosnet:COSNetLive",
    "pcsa": "vsodboost.nets.pcsa:PCSALive",
}
_NOTES = {
    "ssav": "Live inference would need the ConvLSTM Caffe fork ported to PyTorch and its .caffemodel converted by "
            "layer name; use maps mode.",
    "mga": "Flow images: FlowNet 2.0 in the paper, Middlebury colour wheel normalised per frame.",
    "lsti": "A live port would need the MATLAB superpixel/flow pipeline re-implemented; use maps mode.",
    "pcsa": "The released weights were effectively trained on raw [0, 1] RGB (a normalisation indexing bug).",
}

METHODS: dict[str, MethodSpec] = {
    name: MethodSpec(name=name, title=_TITLE[name], framework=_FRAMEWORK[name], clip_protocol=_CLIP_PROTOCOL[name],
                     output=_OUTPUT[name], published_maps=_PUBLISHED_MAPS[name], live=_LIVE.get(name),
                     notes=_NOTES.get(name, ""), **dict(zip(_PROTOCOL_FIELDS, protocol)))
    for name, protocol in _PROTOCOL.items()
}


class MethodTarget:
    """A named method's target: maps mode (published maps) or live mode (a PyTorch port with its checkpoint)."""

    def __init__(self, spec: MethodSpec, backend: Any, mode: str) -> None:
        self.spec = spec
        self.name = spec.name
        self.mode = mode
        self._backend = backend

    def predict(self, video: Video) -> Sequence[np.ndarray | None]:
        if self.mode == "maps":
            return self._backend.predict(video)
        return self._backend.predict_video(list(video))

    def coverage(self, video: Video) -> list[bool] | None:
        """Maps mode: which frames have a map; live mode: None (unknown before running)."""
        return self._backend.coverage(video) if self.mode == "maps" else None

    def explain_no_match(self, video: Video) -> str:
        return self._backend.explain_no_match(video) if self.mode == "maps" else ""

    def identity(self) -> dict[str, Any] | None:
        """Maps mode: the maps folder and options; live mode: None (the Booster hashes the network's weights)."""
        if self.mode == "maps" and hasattr(self._backend, "identity"):
            return {"method": self.spec.name, "mode": "maps", **self._backend.identity()}
        return None

    def __repr__(self) -> str:
        return f"MethodTarget({self.spec.name!r}, mode={self.mode!r}, backend={self._backend!r})"


def _download_hint(spec: MethodSpec, where: Path) -> str:
    return (f"download {spec.title}'s published maps ({spec.published_maps}) and unpack them as "
            f"{where}/<seq>/<stem>.png (or {where}/<dataset>/<seq>/<stem>.png), or pass maps=ROOT")


def make_method(
    method: str,
    maps: str | os.PathLike[str] | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    sequence: str | None = None,
    prefix: str = "",
    suffix: str = "",
    normalize: bool = True,
    exts: Sequence[str] | None = None,
    match: str = "stem",
    **live_kwargs: Any,
) -> MethodTarget:
    """Build the adapter of ``method``: ``maps=ROOT`` (maps mode), ``weights=FILE`` (live), or neither
    (maps from ``$VSODBOOST_HOME/<method>/``). ``sequence``, ``prefix``, ``suffix``, ``normalize``, ``exts`` and
    ``match`` are maps-mode options (see :class:`PrecomputedTarget`); any other keyword goes to the live network."""
    spec = METHODS[method]
    if maps is not None and weights is not None:
        raise InputError(f"{method}: pass either maps=ROOT (published maps) or weights=FILE (live inference), not both")
    if weights is not None or live_kwargs:
        if spec.live is None:
            raise InputError(f"{spec.title} has no live PyTorch port ({spec.notes}) — pass maps=ROOT instead")
        modname, _, clsname = spec.live.partition(":")
        try:
            cls = getattr(importlib.import_module(modname), clsname)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"live inference for {spec.title} is not available in this install ({exc}); "
                             "pass maps=ROOT instead") from exc
        return MethodTarget(spec, cls(weights=weights, **live_kwargs), "live")
    default = home_dir() / method
    root = Path(maps).expanduser() if maps is not None else default
    if not root.is_dir():
        raise MissingMapsError(f"{spec.title}: maps folder {root} does not exist; " + _download_hint(spec, default))
    extra = {"exts": exts} if exts is not None else {}
    backend = PrecomputedTarget(root, sequence=sequence, prefix=prefix, suffix=suffix, normalize=normalize,
                                name=method, hint=_download_hint(spec, default), match=match, **extra)
    return MethodTarget(spec, backend, "maps")
