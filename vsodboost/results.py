"""What the Booster hands back: per buffer (:class:`BufferOutput`, :class:`BufferReport`, :class:`StreamBuffer`,
:class:`MiningRecord` for observers) and per video (:class:`BoostResult`, with ``save`` and ``export``)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
import logging
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch

from .errors import InputError, NoMatchingMapsError
from .io import SUMMARY_FILE, check_file_name, out_path, output_lock, write_json_atomic, write_map_atomic
from .mining import Selection
from .workres import full_size_maps, working_maps

__all__ = ["BoostObserver", "BoostResult", "BufferOutput", "BufferReport", "MiningRecord", "StreamBuffer"]

_log = logging.getLogger("vsodboost.booster")


@dataclass
class BufferReport:
    """What happened in one buffer."""

    start: int
    stop: int
    mined: list[int]  # indices into the video
    candidates: int
    fallback: bool
    warnings: list[str]
    timings: dict[str, float]
    losses: list[float]


@dataclass
class BoostResult:
    """Boosted maps and everything needed to audit them.

    ``boosted[i]`` is float32 H×W in [0,1]; ``target[i]`` is the target's map or None; ``hq_prob``/``consistency``
    are per frame (consistency NaN where the target has no map). For frames longer than ``work_max_side``,
    ``boosted`` and ``target`` are read-only :class:`~vsodboost.workres.FullSizeMaps`: held at the working size,
    each map upsampled to H×W when read (lists otherwise).
    """

    names: list[str]
    sequence: str
    boosted: list[np.ndarray]
    target: list[np.ndarray | None]
    hq_prob: np.ndarray
    consistency: np.ndarray
    mined: list[int]
    buffers: list[BufferReport]
    config: dict[str, Any]
    provenance: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # with run(..., keep_models=True): each buffer's fine-tuned spatial model (aligned with `buffers`, None where
    # the buffer did no fine-tuning or kept the target's maps); empty otherwise
    models: list[Any] = field(default_factory=list)
    # per frame: the motion fusion's weight of the fine-tuned model's map (vsodboost.fusion.motion_weights; ½ where
    # the buffer computed no motion or the frame has no target map), whichever fusion ran
    motion_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, video: Any, outputs: Sequence["BufferOutput"], *, config: dict[str, Any],
           provenance: dict[str, Any], target: str, explain: Callable[[], str],
           keep_models: bool = False) -> "BoostResult":
        """A video's result from its buffers' outputs, in order; each warning is logged. A target with no map for
        any frame raises :class:`NoMatchingMapsError` (with ``explain()``: why no map matched). ``keep_models``: keep
        each buffer's tuned model in :attr:`models` (aligned with :attr:`buffers`)."""
        if all(m is None for o in outputs for m in o.target):
            raise NoMatchingMapsError(f"target {target!r} gave no map for any of the {len(video)} frames of "
                                      f"{video.name!r}: nothing to boost. " + explain())
        reports = [o.report for o in outputs]
        size = video.full_size  # buffers' maps gathered at working size, not upsampled here
        result = cls(names=list(video.names), sequence=video.name,
                     boosted=full_size_maps([m for o in outputs for m in working_maps(o.boosted)], size),
                     target=full_size_maps([m for o in outputs for m in working_maps(o.target)], size),
                     hq_prob=np.concatenate([o.hq_prob for o in outputs]),
                     consistency=np.concatenate([o.consistency for o in outputs]),
                     mined=sum((r.mined for r in reports), []), buffers=reports, config=config,
                     provenance=provenance, warnings=sum((r.warnings for r in reports), []),
                     models=[o.model for o in outputs] if keep_models else [],
                     motion_weight=np.concatenate([o.motion_weight for o in outputs]))
        for w in result.warnings:
            _log.warning(w)
        return result

    @property
    def maps(self) -> list[np.ndarray]:
        """The boosted maps (alias of ``boosted``)."""
        return self.boosted

    @property
    def mined_names(self) -> list[str]:
        """Names of the mined frames (``mined`` holds their indices; the JSON summary holds these names)."""
        return [self.names[i] for i in self.mined]

    def __repr__(self) -> str:
        mined = self.mined_names
        shown = repr(mined) if len(mined) <= 6 else f"[{', '.join(map(repr, mined[:6]))}, … {len(mined)} in all]"
        timings = {k: round(v, 2) for k, v in self.timings.items()}
        warn = f", warnings={len(self.warnings)}" if self.warnings else ""
        return (f"BoostResult(sequence={self.sequence!r}, frames={len(self.names)}, mined={shown}, "
                f"timings={timings}{warn})")

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage, summed over buffers."""
        out: dict[str, float] = {}
        for b in self.buffers:
            for k, v in b.timings.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "frames": len(self.names),
            "mined": [self.names[i] for i in self.mined],
            "hq_fraction": float((self.hq_prob >= self.config["hq_threshold"]).mean()) if len(self.hq_prob) else 0.0,
            "hq_prob": {n: round(float(p), 4) for n, p in zip(self.names, self.hq_prob)},
            "consistency": {n: (None if not np.isfinite(c) else round(float(c), 4))
                            for n, c in zip(self.names, self.consistency)},
            "motion_weight": {n: round(float(w), 4) for n, w in zip(self.names, self.motion_weight)},
            "buffers": [asdict(b) for b in self.buffers],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": self.warnings,
            "config": self.config,
            "provenance": self.provenance,
        }

    def save(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``<out_dir>/<stem>.png`` per frame (atomically) and :meth:`summary` as ``<out_dir>/summary.json``
        (:data:`~vsodboost.io.SUMMARY_FILE`; ``vsodboost.json`` is a resumable run's state, :func:`run_to_dir`).

        An existing map is never replaced unless ``overwrite``: it raises :class:`InputError` instead. A frame name
        that is not a plain file name (``../x``, ``a/b``) is refused before anything is written; the folder is locked
        while writing (:func:`~vsodboost.io.output_lock`).
        """
        for n in self.names:
            check_file_name(n, "frame name")
        with output_lock(out_dir) as out:
            if not overwrite:
                clash = [n for n in self.names if os.path.lexists(out / f"{n}.png")]
                if clash:
                    raise InputError(f"{out} already holds maps for {len(clash)} frame(s) (e.g. {clash[0]}.png); "
                                     "pass overwrite=True or choose another folder")
            for n, m in zip(self.names, self.boosted):
                write_map_atomic(out_path(out, f"{n}.png", what="frame name"), m)
            write_json_atomic(out / SUMMARY_FILE, self.summary())
        return out

    def export(self, out_dir: str | os.PathLike[str], buffer: int = 0, *,
               formats: tuple[str, ...] = ("onnx", "torchscript")) -> Path:
        """Write buffer ``buffer``'s fine-tuned spatial model as ONNX and/or TorchScript with ``preprocessing.json``
        (see :func:`vsodboost.export.export_spatial`). Needs ``run(..., keep_models=True)``."""
        from .export import WHAT_IS_EXPORTED, check_formats, export_spatial

        formats = check_formats(formats)  # the [onnx] extra missing: said before anything else

        if not self.models:
            raise InputError("this result kept no models; run the Booster with keep_models=True to export one")
        if not -len(self.models) <= buffer < len(self.models):
            raise InputError(f"buffer {buffer} does not exist; this result has {len(self.models)} buffer(s)")
        model = self.models[buffer]
        if model is None:
            tuned = [i for i, m in enumerate(self.models) if m is not None]
            raise InputError(f"buffer {buffer} has no adapted model: no frame was mined, or its fine-tuning collapsed "
                             f"or its target maps were flat and the target's maps were kept (see "
                             f"result.buffers[{buffer}].warnings); buffers with one: {tuned or 'none'}")
        b = self.buffers[buffer]
        meta = {"sequence": self.sequence, "buffer": buffer % len(self.models), "frames": [b.start, b.stop],
                "mined": [self.names[i] for i in b.mined], "exported_model": WHAT_IS_EXPORTED,
                "provenance": self.provenance}
        from .config import BoostConfig

        size = BoostConfig.from_dict(self.config).finetune.predict_args()["input_size"]  # where it predicted
        return export_spatial(model, out_dir, input_size=size, formats=formats, meta=meta)


@dataclass
class StreamBuffer:
    """One buffer of :meth:`Booster.stream`, yielded as soon as it is boosted.

    ``timestamps[i]`` is in seconds (a video's ``CAP_PROP_POS_MSEC``, a camera's capture time since the stream
    opened) or None where the source has no clock (folders, frame iterators). ``model`` is the fine-tuned spatial
    model with ``keep_models=True`` (None otherwise, or when the buffer did no fine-tuning or kept the target's maps
    because its fine-tuning collapsed or its target maps were flat). ``report.timings``
    holds the seconds each stage took; their sum is the buffer's processing latency once its last frame arrived.
    """

    index: int
    start: int
    names: list[str]
    timestamps: list[float | None]
    boosted: list[np.ndarray]
    target: list[np.ndarray | None]
    hq_prob: np.ndarray
    consistency: np.ndarray
    report: BufferReport
    model: Any = None
    # the buffer's uint8 RGB frames (for overlays), at the working size (≤ work_max_side; as they came when they fit)
    frames: list[np.ndarray] = field(default_factory=list)
    # per frame: the motion fusion's weight of the fine-tuned model's map, as in BoostResult.motion_weight
    motion_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def stop(self) -> int:
        return self.start + len(self.names)


@dataclass
class BufferOutput:
    """One buffer through the three steps (:meth:`Booster.run_buffer`): maps and per-frame scores, aligned with the
    buffer's frames.

    ``boosted[i]`` is float32 H×W in [0,1] (after fusion); ``target[i]`` is the target's map or None; ``hq_prob[i]``
    the MQPM's HQ probability (Sec. IV; 0 where motion was not computed); ``consistency[i]`` the S-measure between
    the motion saliency and the target's map (Sec. V-B; NaN where the target has no map); ``model`` the fine-tuned
    spatial model (None when nothing was fine-tuned or the target's maps were kept); ``spatial[i]`` the map the
    buffer would have with ``fusion="replace"`` — the fine-tuned spatial model's own map, the paper's output
    (Sec. V-C) — so one run reports both the paper's output and the fused one; ``motion_weight[i]`` the weight of
    ``spatial[i]`` in the ``motion`` fusion (:func:`~vsodboost.fusion.motion_weights`; ½ where no motion or no
    target map), computed whichever rule the buffer used, so every rule can be recomputed from one run.
    """

    boosted: Sequence[np.ndarray]  # a list, or FullSizeMaps for frames longer than work_max_side
    target: Sequence[np.ndarray | None]
    hq_prob: np.ndarray
    consistency: np.ndarray
    report: BufferReport
    motion_weight: np.ndarray  # (N,): the motion fusion's weight of ``spatial`` per frame
    model: torch.nn.Module | None = None
    spatial: Sequence[np.ndarray] = ()


@dataclass(frozen=True)
class MiningRecord:
    """What steps 1–2 saw in one buffer, handed to observers' ``on_mined`` (e.g. ``vsodboost bench`` records the
    motion saliency maps). Indices are into the buffer; ``names`` are its frames' names."""

    sequence: str
    start: int
    stop: int
    names: list[str]
    flow_images: torch.Tensor  # uint8 (T,3,h,w): the colour-coded flow (step 1)
    hq_prob: np.ndarray  # (T,) the MQPM's HQ probability (Sec. IV)
    motion_saliency: torch.Tensor  # (T,h,w) the MQPM's motion saliency map
    consistency: np.ndarray  # (T,) S-measure(motion saliency, target map), NaN without a target map (Sec. V-B)
    selection: Selection


class BoostObserver(Protocol):
    """Sees each buffer go by (``Booster(observers=[...])``); either method may be left out. ``on_mined`` gets what
    steps 1–2 saw (not called for a buffer that skipped motion); ``on_buffer`` the buffer's output, before
    :func:`~vsodboost.runner.run_to_dir` writes its maps or records it as done."""

    def on_mined(self, record: MiningRecord) -> None: ...
    def on_buffer(self, video: Any, start: int, stop: int, output: BufferOutput) -> None: ...
