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

import dataclasses
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import __version__, plugins
from ._device import resolve_device
from .errors import InputError, TargetError
from .mining import Selection, select_frames
from .spatial.finetune import FinetuneConfig, finetune, predict_maps
from .target import TargetModel, check_target_output
from .video import Video, VideoLike, load_video

__all__ = ["Booster", "BoostConfig", "BoostResult", "BufferReport", "StreamBuffer", "fuse_maps", "resolve_device",
           "run_to_dir"]

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
    # "replace" (default, the paper: the boosted map only; measured best with U²-Net-p, docs/booster.md),
    # "geometric" (sqrt(boosted · target) where the target has a map: the fast preset's, for a weak spatial model)
    # or "mean"
    fusion: Fusion = "replace"
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if isinstance(self.finetune, Mapping):
            self.finetune = FinetuneConfig(**self.finetune)
        if self.buffer_size < 1:
            raise InputError(f"buffer_size must be ≥ 1, got {self.buffer_size}")
        if self.period < 1:
            raise InputError(f"period (1/T) must be ≥ 1, got {self.period}")
        if self.fusion not in ("replace", "mean", "geometric"):
            raise InputError(f"fusion must be 'replace', 'mean' or 'geometric', got {self.fusion!r}")
        if self.flow_last not in ("backward", "repeat"):
            raise InputError(f"flow_last must be 'backward' or 'repeat', got {self.flow_last!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BoostConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
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
    are per frame (consistency NaN where the target has no map).
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
    # the buffer did no fine-tuning); empty otherwise
    models: list[Any] = field(default_factory=list)

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
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
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
            raise InputError(f"buffer {buffer} did no fine-tuning (no frame was mined), so it has no adapted model; "
                             f"buffers with one: {tuned or 'none'}")
        b = self.buffers[buffer]
        meta = {"sequence": self.sequence, "buffer": buffer % len(self.models), "frames": [b.start, b.stop],
                "mined": [self.names[i] for i in b.mined], "provenance": self.provenance}
        return export_spatial(model, out_dir, input_size=int(self.config["finetune"]["input_size"]),
                              formats=formats, meta=meta)


def write_map_atomic(path: Path, m: np.ndarray) -> None:
    """Save a [0,1] map as an 8-bit PNG through a temporary file + rename (never a half-written map)."""
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, np.clip(m * 255.0 + 0.5, 0, 255).astype(np.uint8)):
            raise InputError(f"cannot write {path}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_atomic(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, default=str)
    os.replace(tmp, path)


@dataclass
class StreamBuffer:
    """One buffer of :meth:`Booster.stream`, yielded as soon as it is boosted.

    ``timestamps[i]`` is in seconds (a video's ``CAP_PROP_POS_MSEC``, a camera's capture time since the stream
    opened) or None where the source has no clock (folders, frame iterators). ``model`` is the fine-tuned spatial
    model with ``keep_models=True`` (None otherwise, or when the buffer did no fine-tuning). ``report.timings``
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
        preset: a name of :data:`vsodboost.presets.PRESETS` — ``"quality"`` (default: U²-Net-p, the paper's
            ``replace``), ``"fast"`` (Lite0 U-Net, fused with the target), ``"paper"``.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``…
        seed: same seed → same maps on CPU.
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
    ) -> None:
        from .presets import DEFAULT_PRESET, get_preset, merge_config

        self.device = resolve_device(device)
        self.seed = seed
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
            target = plugins.targets().create(target)
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
        self.spatial = spatial.to(self.device).eval()

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
            frames = F.interpolate(frames.float(), size=size, mode="area").round().clamp(0, 255).to(torch.uint8)
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
        maps, losses, _ = self._tune_and_predict(frames, target_maps, mined, seed)
        return maps, losses

    def _tune_and_predict(
        self, frames: torch.Tensor, target_maps: list[np.ndarray | None], mined: list[int], seed: int,
        init: torch.nn.Module | None = None,
    ) -> tuple[torch.Tensor, list[float], torch.nn.Module | None]:
        """:meth:`fine_tune_and_predict` that also returns the tuned model (None when nothing was mined).

        ``init``: the model to copy and fine-tune instead of the pretrained one (``stream(warm_start=True)``)."""
        cfg = self.config.finetune
        start = self.spatial if init is None else init
        model, losses, tuned = start, [], None
        if mined:
            x = frames[mined]
            y = torch.from_numpy(np.stack([target_maps[i] for i in mined]))  # type: ignore[misc]
            model, losses = finetune(start, x.to(self.device), y.to(self.device), cfg, seed=seed)
            tuned = model
        maps = predict_maps(model, frames, input_size=cfg.input_size, batch=cfg.predict_batch)
        return maps, losses, tuned

    # -- driver ---------------------------------------------------------------------------------------------
    def iter_buffers(self, video: Video) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """Process ``video`` buffer by buffer, yielding ``(start, stop, outputs)``; frames stream from disk."""
        for b, (start, stop) in enumerate(video.buffers(self.config.buffer_size)):
            yield start, stop, self._run_buffer(video, start, stop, self.seed + b)

    def _run_buffer(self, video: Video, start: int, stop: int, seed: int, *,
                    init: torch.nn.Module | None = None) -> dict[str, Any]:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        clip = video[start:stop]
        frames = clip.tensor()
        timings["read"] = time.perf_counter() - t
        t = time.perf_counter()
        target_maps = check_target_output(self.target.predict(clip), clip, self.target)
        timings["target"] = time.perf_counter() - t
        warnings: list[str] = []
        n = stop - start
        if not any(m is not None for m in target_maps):
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
            if target_maps[0] is not None:
                sel.indices = [0]
        else:
            t = time.perf_counter()
            flow_images = self.motion(frames)
            timings["flow"] = time.perf_counter() - t
            t = time.perf_counter()
            hq, cons, sel = self.mine(flow_images, target_maps)
            timings["mqpm+filter"] = time.perf_counter() - t
        warnings += [f"buffer {start}:{stop}: {w}" for w in sel.warnings]
        t = time.perf_counter()
        torch.manual_seed(seed)
        maps, losses, tuned = self._tune_and_predict(frames, target_maps, sel.indices, seed, init)
        timings["finetune+predict"] = time.perf_counter() - t
        boosted = [fuse_maps(maps[i].numpy(), target_maps[i], self.config.fusion) for i in range(n)]
        report = BufferReport(start, stop, [start + i for i in sel.indices], len(sel.candidates), sel.fallback,
                              warnings, timings, [round(x, 5) for x in losses])
        return {"boosted": boosted, "target": target_maps, "hq": hq, "cons": cons, "report": report, "model": tuned}

    def run(self, frames: VideoLike, *, name: str | None = None,
            progress: Callable[[int, int], None] | None = None, keep_models: bool = False) -> BoostResult:
        """Boost a whole video (any input :func:`~vsodboost.video.load_video` accepts).

        ``name`` is the sequence name a maps-mode target looks up (default: the folder's name). ``keep_models``
        keeps each buffer's fine-tuned spatial model in :attr:`BoostResult.models` (for
        :meth:`BoostResult.export`); the maps are the same either way.
        """
        video = load_video(frames, name=name)
        if name is not None:
            video.name = name
        boosted: list[np.ndarray] = []
        target: list[np.ndarray | None] = []
        hq, cons, reports, models = [], [], [], []
        for start, stop, out in self.iter_buffers(video):
            boosted += out["boosted"]
            target += out["target"]
            hq.append(out["hq"])
            cons.append(out["cons"])
            reports.append(out["report"])
            if keep_models:  # otherwise each tuned model is freed with its buffer
                models.append(out.get("model"))
            if progress is not None:
                progress(stop, len(video))
        if all(m is None for m in target):
            raise TargetError(
                f"target {self.target.name!r} gave no map for any of the {len(video)} frames of {video.name!r}: "
                "nothing to boost. For a maps-mode target, check that its folder holds this sequence "
                f"({video.name!r}) with file stems matching the frames (e.g. {video.names[0]!r})"
            )
        result = BoostResult(
            names=list(video.names), sequence=video.name, boosted=boosted, target=target,
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
            raise TargetError(f"target {self.target.name!r} gave no map for any frame of stream {seq!r}: nothing was "
                              "boosted. For a maps-mode target, pass name= the sequence its folder holds, with file "
                              "stems matching the frame names (00000, 00001, … for videos and iterators)")

    def _stream_buffer(self, seq: str, chunk: list[tuple[str, np.ndarray, float | None]], index: int, start: int,
                       init: torch.nn.Module | None) -> StreamBuffer:
        n = len(chunk)
        video = Video(arrays=[f for _, f, _ in chunk], names=[nm for nm, _, _ in chunk], name=seq)
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


def _weights_sha(component: Any) -> str:
    prov = getattr(component, "provenance", None)
    return str(prov.get("sha256", "")) if isinstance(prov, dict) else ""


def _settings_key(booster: Booster, video: Video) -> dict[str, Any]:
    """What must match for a rerun to resume into an existing output folder."""
    return {"sequence": video.name, "frames": list(video.names), "config": booster.config.to_dict(),
            "target": booster.target.name, "flow": repr(booster.flow), "seed": booster.seed,
            "mqpm": _weights_sha(booster.mqpm), "spatial": _weights_sha(booster.spatial)}


def run_to_dir(
    booster: Booster,
    frames: VideoLike,
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Boost ``frames`` buffer by buffer, writing ``<out_dir>/<stem>.png`` as each buffer completes.

    Resumable: ``<out_dir>/vsodboost.json`` records the settings and the completed buffers; a rerun with the same
    settings skips completed buffers and rewrites nothing already complete. A folder holding maps made with other
    settings (or files that are not ours) is refused unless ``overwrite``. Returns the summary written.
    """
    video = load_video(frames, name=name)
    if name is not None:
        video.name = name
    out = Path(out_dir)
    state_file = out / "vsodboost.json"
    key = _settings_key(booster, video)
    done: dict[str, Any] = {}
    if out.exists() and any(out.iterdir()):
        if state_file.is_file():
            try:
                prev = json.loads(state_file.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"{state_file} is unreadable ({exc}); remove it or choose another --out") from exc
            if prev.get("settings") == key:
                done = prev.get("buffers_done", {})
            elif not overwrite:
                raise InputError(f"{out} holds results made with other settings (sequence, config, target or "
                                 "weights differ); pass --overwrite to replace them or choose another --out")
        elif not overwrite:
            raise InputError(f"{out} exists and is not a vsodboost output folder; choose another --out or pass "
                             "--overwrite")
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"settings": key, "buffers_done": dict(done), "provenance": booster.provenance(),
                               "warnings": []}
    any_target = False
    for b, (start, stop) in enumerate(video.buffers(booster.config.buffer_size)):
        tag = f"{start}:{stop}"
        if tag in done and all((out / f"{n}.png").is_file() for n in video.names[start:stop]):
            any_target = any_target or done[tag].get("has_target", True)
            if progress is not None:
                progress(stop, len(video))
            continue
        res = booster._run_buffer(video, start, stop, booster.seed + b)
        for n, m in zip(video.names[start:stop], res["boosted"]):
            write_map_atomic(out / f"{n}.png", m)
        has_target = any(m is not None for m in res["target"])
        any_target = any_target or has_target
        rep: BufferReport = res["report"]
        summary["buffers_done"][tag] = {
            **asdict(rep), "mined": [video.names[i] for i in rep.mined], "has_target": has_target,
            "hq_prob": [round(float(p), 4) for p in res["hq"]],
            "consistency": [None if not np.isfinite(c) else round(float(c), 4) for c in res["cons"]],
        }
        summary["warnings"] += rep.warnings
        write_json_atomic(state_file, summary)  # after the maps: a buffer counts as done only once written
        if progress is not None:
            progress(stop, len(video))
    if not any_target:
        raise TargetError(f"target {booster.target.name!r} gave no map for any frame of {video.name!r}; the maps in "
                          f"{out} come from the pretrained spatial model only. Check the target's maps folder.")
    write_json_atomic(state_file, summary)
    return summary
