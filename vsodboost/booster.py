"""The Booster: the paper's three steps on every buffer of a video.

1. **Motion** — optical flow between consecutive frames, colour-coded (Middlebury wheel, per-frame max radius).
2. **Mining + filtering** — the MQPM marks frames whose motion is high quality and gives a motion saliency map
   (Sec. IV); HQ frames with a target map are candidates (Sec. V-A); among them, one frame per T consecutive ones is
   kept, the one whose motion saliency agrees best with the target's map (S-measure consistency, Sec. V-B).
3. **Spatial fine-tuning** — a fresh copy of the pretrained spatial model is fine-tuned on the kept frames with the
   target's maps as pseudo ground truth, then predicts every frame of the buffer (Sec. V-C).

Example:
    >>> from vsodboost import Booster, adapters
    >>> booster = Booster(target=adapters.ssav(maps="results/SSAV/DAVIS"))
    >>> result = booster.run("DAVIS/JPEGImages/480p/bear")
    >>> result.save("out/bear")
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__, plugins
from ._device import resolve_device
from ._checks import check_choice, check_components, check_float, check_int
from .errors import InputError, NoMatchingMapsError, ResumeError, TargetError, VsodboostError
from .mining import Selection, select_frames
from .spatial.finetune import FinetuneConfig, finetune, predict_maps
from .target import TargetModel, check_target_output
from .io import check_output_dir, clean_partials, fsync_dir, map_is_complete, write_json_atomic, write_map_atomic
from .video import Video, VideoLike, load_video
from .workres import area_resize_frames, full_size_maps, working_clip, working_maps, working_size

__all__ = ["Booster", "BoostConfig", "BoostResult", "BufferReport", "StreamBuffer", "fuse_maps", "resolve_device",
           "run_to_dir", "target_identity", "weights_identity", "write_map_atomic", "write_json_atomic"]

_log = logging.getLogger("vsodboost.booster")

Fusion = Literal["replace", "mean", "geometric"]


@dataclass
class BoostConfig:
    """Every knob of the pipeline, with the defaults measured in docs/booster.md."""

    buffer_size: int = 100  # frames per buffer (the paper: ≤ 100)
    period: int = 5  # keep one frame per `period` consecutive HQ frames (the paper's T = 1/5)
    hq_threshold: float = 0.5  # HQ when the MQPM probability reaches this
    flow_last: Literal["backward", "repeat"] = "backward"  # flow of the buffer's last frame
    flow_max_side: int = 480  # frames are downscaled to this longest side for flow (0: full resolution)
    consistency_size: int = 128  # side at which S-measure consistency is computed
    # longest side frames are held at for the whole pipeline (0: full resolution); maps are upsampled to the frame's
    # size when read or written. Bounds memory for 4K frames; DAVIS, ViSal and 720p fit and are unchanged
    # (vsodboost/workres.py, docs/reliability.md)
    work_max_side: int = 1280
    # "mean" (default: (boosted + target) / 2 where the target has a map; with U²-Net-p chosen on CV fold 0 and
    # confirmed on fold 1, docs/booster.md), "replace" (the paper: the boosted map only; the paper preset) or
    # "geometric" (sqrt(boosted · target): the fast preset's, for a weaker spatial model)
    fusion: Fusion = "mean"
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if isinstance(self.finetune, Mapping):
            known = {f.name for f in dataclasses.fields(FinetuneConfig)}
            unknown = set(self.finetune) - known
            if unknown:
                raise InputError(f"unknown finetune keys {sorted(map(str, unknown))}; known: {sorted(known)}")
            self.finetune = FinetuneConfig(**self.finetune)
        self.validate()

    def validate(self) -> None:
        """Check every field (type, range, NaN/inf); the Booster calls it again before a run, so a field set after
        construction is checked too. Raises :class:`InputError` naming the field."""
        self.buffer_size = check_int("buffer_size", self.buffer_size, lo=1, hint=" (frames per buffer, default 100)")
        self.period = check_int("period (1/T)", self.period, lo=1, hint=" (the paper's T = 1/5 is period=5)")
        self.hq_threshold = check_float("hq_threshold", self.hq_threshold, lo=0.0, hi=1.0)
        check_choice("flow_last", self.flow_last, ("backward", "repeat"))
        self.flow_max_side = check_int("flow_max_side", self.flow_max_side, lo=0)
        if 0 < self.flow_max_side < 16:
            raise InputError(f"flow_max_side must be 0 (full resolution) or ≥ 16, got {self.flow_max_side}")
        self.consistency_size = check_int("consistency_size", self.consistency_size, lo=16,
                                          hint=" (side of the S-measure consistency maps, default 128)")
        self.work_max_side = check_int("work_max_side", self.work_max_side, lo=0,
                                       hint=" (0: full resolution; default 1280)")
        if 0 < self.work_max_side < 64:
            raise InputError(f"work_max_side must be 0 (full resolution) or ≥ 64, got {self.work_max_side}")
        check_choice("fusion", self.fusion, ("replace", "mean", "geometric"))
        if not isinstance(self.finetune, FinetuneConfig):
            raise InputError(f"finetune must be a FinetuneConfig or a dict of its fields, got "
                             f"{type(self.finetune).__name__}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BoostConfig":
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
            "buffers": [asdict(b) for b in self.buffers],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": self.warnings,
            "config": self.config,
            "provenance": self.provenance,
        }

    def save(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``<out_dir>/<stem>.png`` per frame (atomically) and ``<out_dir>/vsodboost.json``.

        An existing map is never replaced unless ``overwrite``: it raises :class:`InputError` instead.
        """
        out = check_output_dir(out_dir)
        if not overwrite:
            clash = [n for n in self.names if (out / f"{n}.png").exists()]
            if clash:
                raise InputError(f"{out} already holds maps for {len(clash)} frame(s) (e.g. {clash[0]}.png); "
                                 "pass overwrite=True or choose another folder")
        for n, m in zip(self.names, self.boosted):
            write_map_atomic(out / f"{n}.png", m)
        write_json_atomic(out / "vsodboost.json", self.summary())
        return out

    def export(self, out_dir: str | os.PathLike[str], buffer: int = 0, *,
               formats: tuple[str, ...] = ("onnx", "torchscript")) -> Path:
        """Write buffer ``buffer``'s fine-tuned spatial model as ONNX and/or TorchScript with ``preprocessing.json``
        (see :func:`vsodboost.export.export_spatial`). Needs ``run(..., keep_models=True)``."""
        from .export import export_spatial

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
                "mined": [self.names[i] for i in b.mined], "provenance": self.provenance}
        return export_spatial(model, out_dir, input_size=int(self.config["finetune"]["input_size"]),
                              formats=formats, meta=meta)


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
    frames: list[np.ndarray] = field(default_factory=list)  # the buffer's uint8 RGB frames (for overlays)

    @property
    def stop(self) -> int:
        return self.start + len(self.names)


def _without_card(prov: Any) -> Any:
    return {k: v for k, v in prov.items() if k != "card"} if isinstance(prov, dict) else prov


def _resize_stack(maps: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(maps.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False)[:, 0]


_FLAT = 1.0 / 255.0  # a map whose values all lie within one 8-bit grey level is flat


def _is_flat(m: np.ndarray) -> bool:
    return float(m.max()) - float(m.min()) <= _FLAT


def _collapse(maps: torch.Tensor) -> str:
    """How predicted maps (N,H,W) collapsed ('' when they did not): non-finite values, or every map constant."""
    if not bool(torch.isfinite(maps).all()):
        return "the predicted maps hold NaN or infinite values"
    if bool(((maps.amax(dim=(1, 2)) - maps.amin(dim=(1, 2))) <= _FLAT).all()):
        return f"every predicted map is constant ≈ {float(maps.mean()):.3f}"
    return ""


def fuse_maps(boosted: np.ndarray, target: np.ndarray | None, how: str) -> np.ndarray:
    """Combine the boosted and the target's map of one frame (frames without a target map keep the boosted map)."""
    if target is None or how == "replace":
        return boosted
    if how == "mean":
        return 0.5 * (boosted + target)
    return np.sqrt(np.clip(boosted * target, 0.0, 1.0))  # geometric: both must agree


class Booster:
    """Boost a target VSOD model on the video at hand.

    Args:
        target: a :class:`~vsodboost.TargetModel` or the name of a registered target (``"ssav"``, …).
        flow: a flow backend or its registry name (default ``"dis"``, needs no weights).
        mqpm: an MQPM predictor, ``"default"`` (shipped weights) or a checkpoint path.
        spatial: an ``nn.Module`` or a spatial-model registry name; None: the preset's (``"u2netp"`` by default).
        config: :class:`BoostConfig`, or a dict of its fields laid over the preset's.
        preset: a name of :data:`vsodboost.presets.PRESETS` — ``"quality"`` (default: U²-Net-p, mean fusion),
            ``"fast"`` (Lite0 U-Net, geometric fusion), ``"paper"`` (U²-Net-p, ``replace``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``…
        seed: same seed → same maps on CPU.
        threads: torch CPU threads; None (default) leaves torch as it is. Set with ``torch.set_num_threads``, which
            is process-wide: 1 is fastest on a machine with other jobs running (docs/threads.md).
    """

    def __init__(
        self,
        target: TargetModel | str,
        *,
        flow: Any = "dis",
        mqpm: Any = "default",
        spatial: Any = None,
        config: BoostConfig | Mapping[str, Any] | None = None,
        preset: str | None = None,
        device: str | torch.device = "auto",
        seed: int = 0,
        threads: int | None = None,
    ) -> None:
        from .presets import DEFAULT_PRESET, get_preset, merge_config

        if threads is not None:
            torch.set_num_threads(check_int("threads", threads, lo=1, hint=" (torch CPU threads; None leaves torch's "
                                                                          "setting; 1 on a busy machine)"))
        self.threads = threads
        self._on_iteration: Callable[[int, float], None] | None = None  # fine-tuning progress, see _iterations
        self.device = resolve_device(device)
        self.seed = check_int("seed", seed, lo=0, hi=2**63 - 1, hint=" (any integer in [0, 2**63-1]; 0 is the default)")
        self.preset = get_preset(preset or DEFAULT_PRESET)
        if isinstance(config, BoostConfig):
            self.config = config
        else:
            if config is not None and not isinstance(config, Mapping):
                raise InputError(f"config must be a BoostConfig or a mapping of its fields, got {type(config).__name__}")
            self.config = BoostConfig.from_dict(merge_config(self.preset.config, config or {}))
        if spatial is None:
            spatial = self.preset.spatial
        if isinstance(target, str):
            try:
                target = plugins.targets().create(target)
            except TypeError as exc:  # e.g. "precomputed" needs its maps folder
                raise InputError(f"target {target!r} cannot be built from its name alone ({exc}); build it with its "
                                 f"arguments, e.g. adapters.{target}(...)") from exc
        if not isinstance(target, TargetModel):
            raise InputError(f"target {target!r} does not follow the TargetModel protocol: it needs a `name` "
                             "attribute and a `predict(video)` method (see vsodboost.target)")
        self.target = target
        if isinstance(flow, str):
            from .flow import create_flow

            flow = create_flow(flow)
        self.flow = flow.to(self.device) if hasattr(flow, "to") else flow
        if isinstance(mqpm, (str, os.PathLike)):
            from .mqpm import load_mqpm

            mqpm = load_mqpm(mqpm, device=self.device)
        self.mqpm = mqpm
        if isinstance(spatial, str):
            spatial = plugins.spatial_models().create(spatial)
        check_components(self.flow, self.mqpm, spatial)  # a wrong object fails here, not mid-buffer
        self.spatial = spatial.to(self.device).eval()

    def __repr__(self) -> str:
        return (f"Booster(target={self.target.name!r}, preset={self.preset.name!r}, "
                f"spatial={type(self.spatial).__name__}, device={str(self.device)!r})")

    # -- provenance -----------------------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        return {
            "vsodboost": __version__,
            "torch": torch.__version__,
            "device": str(self.device),
            "python": platform.python_version(),
            "target": {"name": self.target.name, "repr": repr(self.target)},
            "flow": repr(self.flow),
            # the model card's text stays in the package; the summary keeps file, sha256 and training meta
            "mqpm": _without_card(getattr(self.mqpm, "provenance", None)) or repr(self.mqpm),
            "spatial": getattr(self.spatial, "provenance", type(self.spatial).__name__),
            "preset": self.preset.name,
            "seed": self.seed,
        }

    # -- the three steps ------------------------------------------------------------------------------------
    def motion(self, frames: torch.Tensor) -> torch.Tensor:
        """Step 1: colour-coded flow image per frame, uint8 (T,3,h,w) (flow at ≤ ``flow_max_side``)."""
        from .flow import buffer_flows, flow_to_color

        if frames.shape[0] < 2:
            raise InputError(f"a buffer of {frames.shape[0]} frame has no motion; need ≥ 2 frames")
        h, w = frames.shape[-2:]
        side = self.config.flow_max_side
        if side and max(h, w) > side:
            s = side / max(h, w)
            size = (max(16, int(round(h * s))), max(16, int(round(w * s))))
            frames = area_resize_frames(frames, size)  # in chunks: no float copy of the whole buffer
        flows = buffer_flows(self.flow, frames.to(self.device), last=self.config.flow_last)
        return flow_to_color(flows, normalize="frame")

    def mine(
        self, flow_images: torch.Tensor, target_maps: list[np.ndarray | None]
    ) -> tuple[np.ndarray, np.ndarray, Selection]:
        """Step 2: HQ probability, consistency and the selected frames of a buffer."""
        from .metrics import s_measure

        hq_prob, motion_map = self.mqpm.predict(flow_images.to(self.device))
        hq = hq_prob.detach().float().cpu().numpy()
        has = np.array([m is not None for m in target_maps])
        cons = np.full(len(target_maps), np.nan)
        if has.any():
            s = self.config.consistency_size
            idx = np.flatnonzero(has)
            tgt = _resize_stack(torch.from_numpy(np.stack([target_maps[i] for i in idx])), s)
            mot = _resize_stack(motion_map[idx].detach().float().cpu(), s)
            cons[idx] = s_measure(mot, tgt).double().numpy()
        sel = select_frames(hq, cons, has, period=self.config.period, threshold=self.config.hq_threshold)
        return hq, cons, sel

    def fine_tune_and_predict(
        self, frames: torch.Tensor, target_maps: list[np.ndarray | None], mined: list[int], seed: int
    ) -> tuple[torch.Tensor, list[float]]:
        """Step 3: a fresh copy of the spatial model, fine-tuned on the mined frames, predicts every frame."""
        maps, losses, _, _ = self._tune_and_predict(frames, target_maps, mined, seed)
        return maps, losses

    def _tune_and_predict(
        self, frames: torch.Tensor, target_maps: list[np.ndarray | None], mined: list[int], seed: int,
        init: torch.nn.Module | None = None,
    ) -> tuple[torch.Tensor, list[float], torch.nn.Module | None, dict[str, float]]:
        """:meth:`fine_tune_and_predict` that also returns the tuned model (None when nothing was mined) and the
        seconds of ``"finetune"`` and ``"predict"``, timed apart (Table VIII's FPS is inference only).

        ``init``: the model to copy and fine-tune instead of the pretrained one (``stream(warm_start=True)``)."""
        cfg = self.config.finetune
        start = self.spatial if init is None else init
        model, losses, tuned = start, [], None
        t = time.perf_counter()
        if mined:
            x = frames[mined]
            y = torch.from_numpy(np.stack([target_maps[i] for i in mined]))  # type: ignore[misc]
            model, losses = finetune(start, x.to(self.device), y.to(self.device), cfg, seed=seed,
                                     callback=self._on_iteration)
            tuned = model
        t_pred = time.perf_counter()
        maps = predict_maps(model, frames, input_size=cfg.input_size, batch=cfg.predict_batch)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return maps, losses, tuned, {"finetune": t_pred - t, "predict": time.perf_counter() - t_pred}

    # -- driver ---------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _iterations(self, video: Video,
                    callback: Callable[[int, int], None] | None) -> Iterator[Callable[[int], None]]:
        """Route fine-tuning iterations to ``callback(done, total)``, counted over the whole video (total =
        iterations × buffers). Yields ``buffer_done(b)``, which moves the count to the end of buffer ``b`` (a buffer
        with nothing mined does not fine-tune, a resumed one is skipped)."""
        per = self.config.finetune.iterations
        total = per * sum(1 for _ in video.buffers(self.config.buffer_size))
        if callback is None:
            yield lambda b: None
            return
        base = [0]

        def on_iteration(it: int, loss: float) -> None:
            callback(min(base[0] + it, base[0] + per), total)

        def buffer_done(b: int) -> None:
            base[0] = (b + 1) * per
            callback(base[0], total)

        previous, self._on_iteration = self._on_iteration, on_iteration
        try:
            yield buffer_done
        finally:
            self._on_iteration = previous

    def iter_buffers(self, video: Video) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """Process ``video`` buffer by buffer, yielding ``(start, stop, outputs)``; frames stream from disk."""
        for b, (start, stop) in enumerate(video.buffers(self.config.buffer_size)):
            yield start, stop, self._run_buffer(video, start, stop, self.seed + b)

    def _predict_target(self, video: Video, clip: Video, start: int, stop: int) -> list[np.ndarray | None]:
        """The target's maps of one buffer; an exception inside the target names the buffer and its frames."""
        where = (f"buffer {start}:{stop} of {video.name!r} (frames {clip.names[0]!r}…{clip.names[-1]!r})")
        try:
            out = self.target.predict(clip)
        except VsodboostError as exc:  # already typed and explained: keep its type, add where it happened
            exc.add_note(f"while target {self.target.name!r} predicted {where}")
            raise
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            raise TargetError(
                f"target {self.target.name!r} ({type(self.target).__name__}) raised {type(exc).__name__}: {exc} — "
                f"while predicting {where}; fix the target (the traceback above this error shows where it failed)"
            ) from exc
        return check_target_output(out, clip, self.target, full_size=video.size)  # full-size maps: downscaled

    def check_video(self, video: Video) -> None:
        """Refuse, before any compute, frames smaller than the flow backend accepts after ``flow_max_side``."""
        if len(video) < 2:
            return
        h, w = working_size(video.height, video.width, self.config.work_max_side)
        side = self.config.flow_max_side
        if side and max(h, w) > side:
            s = side / max(h, w)
            h, w = max(16, int(round(h * s))), max(16, int(round(w * s)))
        need = int(getattr(self.flow, "min_size", 1) or 1)
        if h < need or w < need:
            raise InputError(
                f"frames of {video.name!r} are {video.width}×{video.height} (W×H); flow backend "
                f"{getattr(self.flow, 'name', type(self.flow).__name__)!r} needs at least {need}×{need} px. "
                "Upscale the frames or choose another flow backend")

    def check_coverage(self, video: Video) -> None:
        """Before any compute: a target that reports ``coverage(video)`` (maps-mode adapters) but has no map for
        any frame raises :class:`NoMatchingMapsError`, saying how frames and maps are named."""
        coverage = getattr(self.target, "coverage", None)
        cov = coverage(video) if callable(coverage) else None
        if cov is not None and not any(cov):
            raise NoMatchingMapsError(f"target {self.target.name!r} has no map for any of the {len(video)} frames of "
                                      f"{video.name!r}: " + _no_match_hint(self.target, video))

    def _run_buffer(self, video: Video, start: int, stop: int, seed: int, *,
                    init: torch.nn.Module | None = None) -> dict[str, Any]:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        clip = working_clip(video, start, stop, self.config.work_max_side)  # frames > work_max_side: downscaled
        frames = clip.tensor()
        timings["read"] = time.perf_counter() - t
        t = time.perf_counter()
        target_maps = self._predict_target(video, clip, start, stop)
        timings["target"] = time.perf_counter() - t
        warnings: list[str] = []
        n = stop - start
        # flat target maps (all ≈ 0, all ≈ 1, any constant) teach nothing: never mined (documented fallback)
        flat = [i for i, m in enumerate(target_maps) if m is not None and _is_flat(m)]
        teach = [None if i in flat else m for i, m in enumerate(target_maps)]
        if flat:
            names = [clip.names[i] for i in flat]
            warnings.append(f"buffer {start}:{stop}: the target's map is flat (constant ≈ "
                            f"{float(target_maps[flat[0]].mean()):.3f}) on {len(flat)} frame(s), e.g. {names[:3]}: "
                            "not used for fine-tuning")
        all_flat = bool(flat) and not any(m is not None for m in teach)
        if all_flat:
            hq, cons = np.zeros(n), np.full(n, np.nan)
            sel = Selection([], [], fallback=True, warnings=[
                "every target map of this buffer is flat: kept the target's maps for this buffer (frames without "
                "one get the pretrained spatial model's map)"])
        elif not any(m is not None for m in target_maps):
            # nothing to learn from in this buffer: skip motion and mining (documented fallback)
            hq, cons = np.zeros(n), np.full(n, np.nan)
            sel = Selection([], [], fallback=True, warnings=[
                "the target has no map for any frame of this buffer: maps come from the pretrained spatial model"])
        elif n < 2:
            # a lone frame has no motion: no mining; the pretrained spatial model gives its map (documented)
            hq, cons = np.zeros(n), np.full(n, np.nan)
            sel = Selection([], [], fallback=True,
                            warnings=[f"buffer {start}:{stop} has 1 frame: no motion to mine; maps come from the "
                                      "pretrained spatial model fine-tuned on its target map when there is one"])
            if teach[0] is not None:
                sel.indices = [0]
        else:
            t = time.perf_counter()
            flow_images = self.motion(frames)
            timings["flow"] = time.perf_counter() - t
            t = time.perf_counter()
            hq, cons, sel = self.mine(flow_images, teach)
            timings["mqpm+filter"] = time.perf_counter() - t
        warnings += [f"buffer {start}:{stop}: {w}" for w in sel.warnings]
        torch.manual_seed(seed)
        maps, losses, tuned, seconds = self._tune_and_predict(frames, teach, sel.indices, seed, init)
        timings.update(seconds)
        keep_target = all_flat
        collapse = _collapse(maps) if sel.indices else ""
        if collapse:
            # a fine-tune that collapsed (e.g. a huge lr) predicts one constant or NaN: keep the target's maps
            keep_target = True
            warnings.append(f"buffer {start}:{stop}: fine-tuning collapsed ({collapse}); kept the target's maps "
                            f"for this buffer — lower finetune.lr (now {self.config.finetune.lr:g}) or "
                            "finetune.iterations")
        if keep_target:
            tuned = None  # these maps are not the tuned model's: nothing adapted to keep or warm-start from
            cfg = self.config.finetune
            missing = [i for i, m in enumerate(target_maps) if m is None]
            if missing:
                pre = predict_maps(self.spatial, frames[missing], input_size=cfg.input_size, batch=cfg.predict_batch)
                for j, i in enumerate(missing):
                    maps[i] = pre[j]
            boosted = [target_maps[i] if target_maps[i] is not None else maps[i].numpy() for i in range(n)]
        else:
            boosted = [fuse_maps(maps[i].numpy(), target_maps[i], self.config.fusion) for i in range(n)]
        report = BufferReport(start, stop, [start + i for i in sel.indices], len(sel.candidates),
                              sel.fallback or keep_target, warnings, timings, [round(x, 5) for x in losses])
        # maps stay at the working size; read or written, they come at the frame's size (vsodboost/workres.py)
        return {"boosted": full_size_maps(boosted, video.size), "target": full_size_maps(target_maps, video.size),
                "hq": hq, "cons": cons, "report": report, "model": tuned}

    def run(self, frames: VideoLike, *, name: str | None = None,
            progress: Callable[[int, int], None] | bool | None = None,
            iteration_progress: Callable[[int, int], None] | None = None, keep_models: bool = False) -> BoostResult:
        """Boost a whole video (any input :func:`~vsodboost.video.load_video` accepts).

        ``name`` is the sequence name a maps-mode target looks up (default: the folder's name). ``keep_models``
        keeps each buffer's fine-tuned spatial model in :attr:`BoostResult.models` (for
        :meth:`BoostResult.export`); the maps are the same either way.
        ``progress``: ``True`` shows a tqdm bar that advances per fine-tuning iteration; a callable gets
        ``(frames_done, frames_total)`` after each buffer. ``iteration_progress(done, total)`` is called after each
        fine-tuning iteration, counted over the video (total = ``finetune.iterations`` × buffers).
        """
        self.config.validate()
        video = load_video(frames, name=name)
        if name is not None:
            video.name = name
        self.check_video(video)
        self.check_coverage(video)
        boosted: list[np.ndarray] = []
        target: list[np.ndarray | None] = []
        hq, cons, reports, models = [], [], [], []
        bar = None
        if progress is True:
            from tqdm import tqdm

            bar = tqdm(desc=video.name, unit="it", leave=False)

            def show(done: int, total: int) -> None:
                bar.total, bar.n = total, done  # type: ignore[union-attr]
                bar.refresh()  # type: ignore[union-attr]

            iteration_progress = _both(iteration_progress, show)
        try:
            with self._iterations(video, iteration_progress) as buffer_done:
                for b, (start, stop, out) in enumerate(self.iter_buffers(video)):
                    boosted += working_maps(out["boosted"])  # kept at working size, not upsampled here
                    target += working_maps(out["target"])
                    hq.append(out["hq"])
                    cons.append(out["cons"])
                    reports.append(out["report"])
                    if keep_models:  # otherwise each tuned model is freed with its buffer
                        models.append(out.get("model"))
                    buffer_done(b)
                    if callable(progress):
                        progress(stop, len(video))
        finally:
            if bar is not None:
                bar.close()
        if all(m is None for m in target):
            raise NoMatchingMapsError(
                f"target {self.target.name!r} gave no map for any of the {len(video)} frames of {video.name!r}: "
                "nothing to boost. " + _no_match_hint(self.target, video))
        result = BoostResult(
            names=list(video.names), sequence=video.name, boosted=full_size_maps(boosted, video.size),
            target=full_size_maps(target, video.size),
            hq_prob=np.concatenate(hq), consistency=np.concatenate(cons), mined=sum((r.mined for r in reports), []),
            buffers=reports, config=self.config.to_dict(), provenance=self.provenance(),
            warnings=sum((r.warnings for r in reports), []), models=models,
        )
        for w in result.warnings:
            _log.warning(w)
        return result

    def stream(self, source: Any, *, name: str | None = None, buffer_size: int | None = None,
               warm_start: bool = False, keep_models: bool = False) -> Iterator[StreamBuffer]:
        """Boost a stream buffer by buffer, yielding each buffer's maps as soon as it is done.

        ``source``: a camera index, a video file or URL OpenCV opens, a folder of frames, or any iterable of uint8
        RGB H×W×3 arrays (:mod:`vsodboost.stream`). Frames are gathered into buffers of ``buffer_size`` (default
        ``config.buffer_size``; smaller: less latency, fewer frames to mine from) and each buffer goes through the
        same code as :meth:`run` with the same seed (``seed + buffer index``), so on the same frames ``stream`` and
        ``run`` give the same maps.

        ``warm_start=True`` fine-tunes each buffer from the previous buffer's tuned model instead of the pretrained
        one: a departure from the paper (and our default), where every buffer starts afresh; the pretrained model is
        never modified. ``keep_models`` puts each buffer's tuned model in :attr:`StreamBuffer.model`.

        The source is opened now (:class:`InputError` if it cannot be); frames are read while iterating. When the
        stream ends without the target having given a map for any frame, a :class:`TargetError` is raised (as
        :meth:`run` does), after the last buffer was yielded.
        """
        from .stream import iter_source, source_name

        self.config.validate()  # as run() does: a field set after construction is checked too
        size = self.config.buffer_size if buffer_size is None else buffer_size
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InputError(f"buffer_size must be an int ≥ 1, got {size!r}")
        frames = iter_source(source)
        return self._stream(frames, name or source_name(source), size, warm_start, keep_models)

    def _stream(self, frames: Iterator[tuple[str, np.ndarray, float | None]], seq: str, size: int,
                warm_start: bool, keep_models: bool) -> Iterator[StreamBuffer]:
        init: torch.nn.Module | None = None
        start, index, any_target = 0, 0, False
        chunk: list[tuple[str, np.ndarray, float | None]] = []
        for item in frames:
            chunk.append(item)
            if len(chunk) < size:
                continue
            out = self._stream_buffer(seq, chunk, index, start, init)
            any_target = any_target or any(m is not None for m in out.target)
            if warm_start and out.model is not None:
                init = out.model
            if not keep_models:
                out.model = None
            yield out
            start, index, chunk = start + len(chunk), index + 1, []
        if chunk:
            out = self._stream_buffer(seq, chunk, index, start, init)
            any_target = any_target or any(m is not None for m in out.target)
            if not keep_models:
                out.model = None
            yield out
        if not any_target:
            raise NoMatchingMapsError(
                f"target {self.target.name!r} gave no map for any frame of stream {seq!r}: nothing was boosted. For a "
                "maps-mode target, pass name= the sequence its folder holds, with file stems matching the frame names "
                "(00000, 00001, … for videos and iterators)")

    def _stream_buffer(self, seq: str, chunk: list[tuple[str, np.ndarray, float | None]], index: int, start: int,
                       init: torch.nn.Module | None) -> StreamBuffer:
        n = len(chunk)
        video = Video(arrays=[f for _, f, _ in chunk], names=[nm for nm, _, _ in chunk], name=seq)
        self.check_video(video)
        kw = {"init": init} if init is not None else {}  # subclasses overriding _run_buffer(video, start, stop, seed)
        out = self._run_buffer(video, 0, n, self.seed + index, **kw)
        rep: BufferReport = out["report"]
        if start:  # the buffer ran as frames 0:n of its own video: report it in stream positions, as run() does
            old, new = f"buffer 0:{n}", f"buffer {start}:{start + n}"
            rep = dataclasses.replace(rep, start=start, stop=start + n, mined=[start + i for i in rep.mined],
                                      warnings=[w.replace(old, new) for w in rep.warnings])
        for w in rep.warnings:
            _log.warning(w)
        return StreamBuffer(index=index, start=start, names=list(video.names), timestamps=[t for _, _, t in chunk],
                            boosted=out["boosted"], target=out["target"], hq_prob=out["hq"],
                            consistency=out["cons"], report=rep, model=out.get("model"),
                            frames=[f for _, f, _ in chunk])


def _both(a: Callable[[int, int], None] | None, b: Callable[[int, int], None]) -> Callable[[int, int], None]:
    if a is None:
        return b
    return lambda done, total: (a(done, total), b(done, total))  # type: ignore[func-returns-value]


def _no_match_hint(target: Any, video: Video) -> str:
    """Why no map matched: the target's own explanation (``explain_no_match(video)``: counts and example names of
    frames and maps) when it has one, else what to check."""
    explain = getattr(target, "explain_no_match", None)
    if callable(explain):
        try:
            text = explain(video)
        except VsodboostError as exc:
            text = str(exc)
        if text:
            return str(text)
    return (f"For a maps-mode target, check that its folder holds this sequence ({video.name!r}) with file stems "
            f"matching the frames (e.g. {video.names[0]!r})")


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable_repr(obj: Any) -> str:
    """``repr`` without memory addresses (they change every run); long ones are hashed."""
    text = _ADDRESS.sub("", repr(obj))
    return text if len(text) <= 1000 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _state_dict_sha(modules: list[torch.nn.Module]) -> str:
    h = hashlib.sha256()
    for mod in modules:
        for k, v in mod.state_dict().items():
            v = v.detach().cpu().contiguous().reshape(-1)
            h.update(f"{k}|{v.dtype}|{v.numel()}|".encode())
            h.update(v.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _modules_of(obj: Any, depth: int = 2) -> list[torch.nn.Module]:
    """``obj`` itself when it is a module, else the modules among its attributes (two levels deep)."""
    if isinstance(obj, torch.nn.Module):
        return [obj]
    if depth == 0 or not hasattr(obj, "__dict__"):
        return []
    found: list[torch.nn.Module] = []
    for k in sorted(vars(obj)):
        found += _modules_of(vars(obj)[k], depth - 1)
    return found


def weights_identity(component: Any) -> str:
    """What identifies a component's weights: the sha256 of its state dict when it holds modules (catches models
    built without a weights file, and models changed after loading), else its provenance sha256, else its repr."""
    mods = _modules_of(component)
    if mods:
        return "state_dict:" + _state_dict_sha(mods)
    prov = getattr(component, "provenance", None)
    if isinstance(prov, dict) and prov.get("sha256"):
        return "sha256:" + str(prov["sha256"])
    return "repr:" + _stable_repr(component)


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def target_identity(target: Any) -> dict[str, Any]:
    """The target's identity for the resume key: its ``identity()`` when it has one (maps root and options of a
    maps-mode adapter, weights of a live one), else its type, address-free repr and weights."""
    ident = getattr(target, "identity", None)
    ident = ident() if callable(ident) else None
    if ident is not None:  # None: the target defers to the generic identity below
        if not isinstance(ident, Mapping):
            raise TargetError(f"target {target.name!r}: identity() returned {type(ident).__name__}; expected a dict "
                              "(JSON-serialisable) saying what makes two instances give the same maps, or None")
        return _jsonable({"name": target.name, **dict(ident)})
    out: dict[str, Any] = {"name": target.name, "type": f"{type(target).__module__}.{type(target).__qualname__}",
                           "repr": _stable_repr(target)}
    if _modules_of(target) or isinstance(getattr(target, "provenance", None), dict):
        out["weights"] = weights_identity(target)
    return _jsonable(out)


#: Version of the resume key's layout; a folder written with another version is refused (it cannot be compared).
KEY_FORMAT = 2

_LABELS = {"format": "resume-key format", "sequence": "sequence name", "frames": "frames", "config": "config",
           "target": "target", "target.root": "target maps root", "flow": "flow backend", "seed": "seed",
           "mqpm": "MQPM weights", "spatial": "spatial model weights"}


def _short(v: Any) -> str:
    if isinstance(v, list) and len(v) > 3:
        return f"{len(v)} items [{v[0]!r}…{v[-1]!r}]"
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _key_diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Human-readable differences between two resume keys: ``label: old → new``."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(new) + [k for k in old if k not in new]:
            p = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{_LABELS.get(p, p)}: (absent) → {_short(new[k])}")
            elif k not in new:
                out.append(f"{_LABELS.get(p, p)}: {_short(old[k])} → (absent)")
            else:
                out += _key_diff(old[k], new[k], p)
        return out
    return [] if old == new else [f"{_LABELS.get(path, path)}: {_short(old)} → {_short(new)}"]


def _flow_identity(flow: Any) -> Any:
    """The backend's repr (backend and options); deep backends add their weights' state-dict hash."""
    return {"repr": _stable_repr(flow), "weights": weights_identity(flow)} if _modules_of(flow) else _stable_repr(flow)


def _settings_key(booster: Booster, video: Video) -> dict[str, Any]:
    """What must match for a rerun to resume into an existing output folder."""
    return _jsonable({
        "format": KEY_FORMAT, "sequence": video.name, "frames": list(video.names),
        "config": booster.config.to_dict(), "target": target_identity(booster.target),
        "flow": _flow_identity(booster.flow), "seed": booster.seed,
        "mqpm": weights_identity(booster.mqpm), "spatial": weights_identity(booster.spatial),
    })


def _read_state(state_file: Path) -> dict[str, Any]:
    try:
        prev = json.loads(state_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{state_file} is unreadable ({exc}); remove it or choose another --out") from exc
    if not isinstance(prev, dict) or not isinstance(prev.get("buffers_done", {}), dict):
        raise InputError(f"{state_file} is not a vsodboost run state (expected a JSON object with 'settings' and "
                         "'buffers_done'); remove it or choose another --out")
    return prev


def run_to_dir(
    booster: Booster,
    frames: VideoLike,
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    iteration_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Boost ``frames`` buffer by buffer, writing ``<out_dir>/<stem>.png`` as each buffer completes.

    Resumable (docs/reliability.md): ``<out_dir>/vsodboost.json`` is written before the first map and records the
    settings (target identity, weights, config, seed, frames) and the completed buffers. A rerun with the same
    settings skips buffers whose maps are all complete PNGs and removes temporary files a killed run left. A folder
    holding results made with other settings is refused with :class:`ResumeError` naming what differs; a folder
    holding files that are not ours is refused with :class:`InputError`; both unless ``overwrite``. The folder is
    proved writable before any compute (:class:`OutputError` otherwise). ``progress(frames_done, frames_total)``
    is called after each buffer, ``iteration_progress(done, total)`` after each fine-tuning iteration (see
    :meth:`Booster.run`). Returns the summary written.
    """
    booster.config.validate()
    video = load_video(frames, name=name)
    if name is not None:
        video.name = name
    booster.check_video(video)
    booster.check_coverage(video)
    out = Path(out_dir)
    state_file = out / "vsodboost.json"
    key = _settings_key(booster, video)
    done: dict[str, Any] = {}
    if out.is_dir() and any(out.iterdir()):
        if state_file.is_file():
            prev = _read_state(state_file)
            if prev.get("settings") == key:
                done = prev.get("buffers_done", {})
            elif not overwrite:
                diff = _key_diff(prev.get("settings"), key) or ["(the recorded settings are unreadable)"]
                more = f" (and {len(diff) - 5} more)" if len(diff) > 5 else ""
                raise ResumeError(f"{out} holds results made with other settings — " + "; ".join(diff[:5]) + more
                                  + "; pass --overwrite (overwrite=True) to replace them or choose another --out")
        elif any(f.name != state_file.name and not f.name.endswith(".vsodboost-tmp") for f in out.iterdir()) \
                and not overwrite:
            raise InputError(f"{out} exists and is not a vsodboost output folder; choose another --out or pass "
                             "--overwrite")
    check_output_dir(out)
    removed = clean_partials(out, video.names)
    if removed:
        _log.info("removed %d temporary file(s) a killed run left in %s", len(removed), out)
    summary: dict[str, Any] = {"settings": key, "buffers_done": dict(done), "provenance": booster.provenance(),
                               "warnings": [], "complete": False}
    order = [f"{a}:{b}" for a, b in video.buffers(booster.config.buffer_size)]

    def collect_warnings() -> list[str]:  # in buffer order, so a rerun keeps every buffer's warnings
        return [w for tag in order for w in summary["buffers_done"].get(tag, {}).get("warnings", [])]

    summary["warnings"] = collect_warnings()
    write_json_atomic(state_file, summary)  # before the first map: a run killed mid-buffer is resumable
    size = (video.height, video.width)
    any_target = False
    with booster._iterations(video, iteration_progress) as buffer_done:
        for b, (start, stop) in enumerate(video.buffers(booster.config.buffer_size)):
            tag = f"{start}:{stop}"
            if tag in done and all(map_is_complete(out / f"{n}.png", size) for n in video.names[start:stop]):
                any_target = any_target or done[tag].get("has_target", True)
                buffer_done(b)
                if progress is not None:
                    progress(stop, len(video))
                continue
            summary["buffers_done"].pop(tag, None)
            res = booster._run_buffer(video, start, stop, booster.seed + b)
            for n, m in zip(video.names[start:stop], res["boosted"]):
                write_map_atomic(out / f"{n}.png", m, sync_dir=False)
            fsync_dir(out)  # the maps' renames are durable before the state says the buffer is done
            has_target = any(m is not None for m in res["target"])
            any_target = any_target or has_target
            rep: BufferReport = res["report"]
            summary["buffers_done"][tag] = {
                **asdict(rep), "mined": [video.names[i] for i in rep.mined], "has_target": has_target,
                "hq_prob": [round(float(p), 4) for p in res["hq"]],
                "consistency": [None if not np.isfinite(c) else round(float(c), 4) for c in res["cons"]],
            }
            summary["warnings"] = collect_warnings()
            for w in rep.warnings:
                _log.warning(w)
            write_json_atomic(state_file, summary)  # after the maps: a buffer counts as done only once written
            buffer_done(b)
            if progress is not None:
                progress(stop, len(video))
    if not any_target:
        raise NoMatchingMapsError(f"target {booster.target.name!r} gave no map for any frame of {video.name!r}; the "
                                  f"maps in {out} come from the pretrained spatial model only. "
                                  + _no_match_hint(booster.target, video))
    summary["complete"] = True
    write_json_atomic(state_file, summary)
    return summary
