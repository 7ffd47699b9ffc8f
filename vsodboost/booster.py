"""The Booster: the paper's three steps on every buffer of a video.

1. **Motion** — optical flow between consecutive frames, colour-coded (Middlebury wheel, per-frame max radius).
2. **Mining + filtering** — the MQPM marks frames whose motion is high quality and gives a motion saliency map
   (Sec. IV); HQ frames with a target map are candidates (Sec. V-A); among them, one frame per T consecutive ones is
   kept, the one whose motion saliency agrees best with the target's map (S-measure consistency, Sec. V-B).
3. **Spatial fine-tuning** — a fresh copy of the pretrained spatial model is fine-tuned on the kept frames with the
   target's maps as pseudo ground truth, then predicts every frame of the buffer (Sec. V-C); its maps are fused with
   the target's (``BoostConfig.fusion``, :mod:`vsodboost.fusion`).

Elsewhere: the config (:mod:`vsodboost.config`), results (:mod:`vsodboost.results`), the resumable folder driver
(:mod:`vsodboost.runner`), streams (:mod:`vsodboost.stream`); docs/architecture.md draws the whole.

Example:
    >>> from vsodboost import Booster, adapters
    >>> booster = Booster(target=adapters.ssav(maps="results/SSAV/DAVIS"))
    >>> result = booster.run("DAVIS/JPEGImages/480p/bear")
    >>> result.save("out/bear")
"""

from __future__ import annotations

import copy
import platform
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from ._version import __version__
from ._checks import check_int
from ._components import build_config, build_flow, build_mqpm, build_spatial, build_target, notify
from ._device import resolve_device
from ._steps import OnStage, SequenceProgress, Stopwatch, check_threads, counting, seeded, torch_threads
from ._deprecated import moved_names
from .config import BoostConfig
from .errors import InputError
from .flow import buffer_flows, check_flow_size, flow_size, flow_to_color
from .fusion import collapse, fuse_buffer, motion_weights
from .mining import FrameSelector, Selection, consistency, mqpm_selector, teachable, without_motion
from .results import BoostObserver, BoostResult, BufferOutput, BufferReport, MiningRecord, StreamBuffer
from .spatial.finetune import finetune, predict_maps
from .stream import iter_source, source_name, stream_buffers
from .target import RoundTarget, TargetModel, TargetStack, check_target_coverage, explain_no_match, predict_buffer
from .video import Video, VideoLike, load_video
from .workres import area_resize_frames, full_size_maps, working_clip, working_size

__all__ = ["Booster"]

__getattr__ = moved_names(__name__, {  # re-exported here before each name had one home; gone in the next release
    "fuse_maps": "vsodboost.fusion", "run_to_dir": "vsodboost.runner", "target_identity": "vsodboost.identity",
    "weights_identity": "vsodboost.identity", "write_map_atomic": "vsodboost.io", "write_json_atomic": "vsodboost.io",
    "FinetuneConfig": "vsodboost.config"})


class Booster:
    """Boost a target VSOD model on the video at hand.

    Args:
        target: a ``TargetModel``, a registered target's name, or None: the shipped U²-Net-p (self-boosting).
        flow: a flow backend or its registry name (default ``"dis"``, needs no weights).
        mqpm: an MQPM predictor, ``"default"`` (shipped weights) or a checkpoint path.
        spatial: an ``nn.Module`` or a spatial-model registry name; None: the preset's (``"u2netp_davis"`` by
            default).
        config: a dict of :class:`BoostConfig` fields or a ``BoostConfig``: the preset's, then the ones given.
        preset: a name of :data:`vsodboost.presets.PRESETS` — ``"quality"`` (default: U²-Net-p with the DAVIS-TR
            prior, motion fusion), ``"fast"`` (Lite0 U-Net, geometric fusion), ``"paper"`` (the same prior,
            ``replace``, BCE only).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``…
        seed: buffer ``b`` uses ``seed + b``, the process's RNG left as it was (README: "When are maps
            bit-identical?"). threads: torch CPU threads while a buffer runs, the caller's restored after it:
            1 as the CLI's (docs/threads.md); 0 or None: torch's own.
        selector: which frames step 2 mines (:class:`~vsodboost.mining.FrameSelector`; default: the paper's).
        observers: :class:`~vsodboost.results.BoostObserver` objects told about each buffer (``vsodboost bench``).
    """

    def __init__(self, target: TargetModel | str | None = None, *, flow: Any = "dis", mqpm: Any = "default",
                 spatial: Any = None, config: BoostConfig | Mapping[str, Any] | None = None,
                 preset: str | None = None, device: str | torch.device = "auto", seed: int = 0,
                 threads: int | None = 1, selector: FrameSelector | None = None,
                 observers: Sequence[BoostObserver] = ()) -> None:
        self.threads = check_threads(threads)
        self.device = resolve_device(device)
        self.seed = check_int("seed", seed, lo=0, hi=2**63 - 1, hint=" (any integer in [0, 2**63-1]; 0 is the default)")
        self.preset, self.config = build_config(preset, config, self.device)
        self.target = build_target(target, self.device)  # None: the shipped U²-Net-p (DEFAULT_TARGET)
        self.flow = build_flow(flow, self.device)
        self.mqpm = build_mqpm(mqpm, self.device)
        spatial = self.preset.spatial if spatial is None else spatial
        self.spatial = build_spatial(spatial, self.device, flow=self.flow, mqpm=self.mqpm)
        self.selector: FrameSelector = selector or mqpm_selector
        self.observers: list[BoostObserver] = list(observers)

    def __repr__(self) -> str:
        return f"Booster(target={self.target.name!r}, preset={self.preset.name!r}, spatial=" \
               f"{type(self.spatial).__name__}, device={str(self.device)!r})"

    def provenance(self) -> dict[str, Any]:
        """What made the maps: versions, device, target, flow, weights (without model-card text), preset, seed."""
        mqpm = getattr(self.mqpm, "provenance", None)
        mqpm = _without_card(mqpm)
        return {"vsodboost": __version__, "torch": torch.__version__, "device": str(self.device),
                "python": platform.python_version(), "target": {"name": self.target.name, "repr": repr(self.target)},
                "flow": repr(self.flow), "mqpm": mqpm or repr(self.mqpm),
                "spatial": getattr(self.spatial, "provenance", type(self.spatial).__name__),
                "preset": self.preset.name, "config": self.config.to_dict(), "seed": self.seed}

    # -- the three steps ------------------------------------------------------------------------------------
    def motion(self, frames: torch.Tensor) -> torch.Tensor:
        """Step 1: colour-coded flow image per frame, uint8 (T,3,h,w) (flow at ≤ ``flow_max_side``)."""
        if frames.shape[0] < 2:
            raise InputError(f"a buffer of {frames.shape[0]} frame has no motion; need ≥ 2 frames")
        size = flow_size(*frames.shape[-2:], self.config.flow_max_side)
        if size != tuple(frames.shape[-2:]):
            frames = area_resize_frames(frames, size)  # in chunks: no float copy of the whole buffer
        where = getattr(self.flow, "device", None) or self.device  # a CPU-only backend gets its frames on the CPU
        flows = buffer_flows(self.flow, frames.to(where), last=self.config.flow_last)
        return flow_to_color(flows, normalize="frame")

    def mine(self, flow_images: torch.Tensor, target_maps: list[np.ndarray | None], *,
             seed: int | None = None) -> tuple[np.ndarray, np.ndarray, Selection]:
        """Step 2: HQ probability (Sec. IV), consistency (Sec. V-B) and the selected frames of a buffer."""
        stack = TargetStack.of(target_maps)
        return self._mine(flow_images, stack.maps, stack.has, self.seed if seed is None else seed)[:3]

    def _mine(self, flow_images: torch.Tensor, target: torch.Tensor, has: np.ndarray,
              seed: int) -> tuple[np.ndarray, np.ndarray, Selection, torch.Tensor]:
        hq_prob, motion_map = self.mqpm.predict(flow_images.to(self.device))
        hq = hq_prob.detach().float().cpu().numpy()
        cons = consistency(motion_map, target, has, self.config.consistency_size)
        sel = self.selector(hq, cons, has, period=self.config.period, threshold=self.config.hq_threshold, seed=seed)
        return hq, cons, sel, motion_map

    def fine_tune_and_predict(self, frames: torch.Tensor, target_maps: list[np.ndarray | None], mined: list[int],
                              seed: int, *, init: torch.nn.Module | None = None, on_iteration: Callable[[int, float],
                              None] | None = None) -> tuple[torch.Tensor, list[float]]:
        """Step 3: a fresh copy of the spatial model (or of ``init``: ``stream(warm_start=True)``), fine-tuned on the
        mined frames with their target maps as pseudo ground truth, predicts every frame: maps (N,H,W), losses."""
        target = TargetStack.of(target_maps, tuple(frames.shape[-2:])).maps
        maps, losses, _ = self._tune_and_predict(frames, target, mined, seed, init, on_iteration, Stopwatch())
        return maps, losses

    def _tune_and_predict(self, frames: torch.Tensor, target: torch.Tensor, mined: list[int],
                          seed: int, init: torch.nn.Module | None, on_iteration: Callable[[int, float], None] | None,
                          clock: Stopwatch) -> tuple[torch.Tensor, list[float], torch.nn.Module | None]:
        cfg, model, losses, tuned = self.config.finetune, self.spatial if init is None else init, [], None
        with seeded(seed, self.device):
            with clock("finetune"):
                if mined:  # iterations, then predicted frames, counted for run_buffer's on_stage (clock.tell)
                    on_iteration = counting(clock.tell, "fine-tuning", cfg.iterations, on_iteration)
                    y = target[mined]
                    if cfg.pseudo_gt == "blend":  # the target's maps averaged with the untuned model's
                        y = (y + predict_maps(model, frames[mined], **cfg.predict_args())) / 2
                    model, losses = finetune(model, frames[mined].to(self.device), y.to(self.device), cfg, seed=seed,
                                             callback=on_iteration)
                    tuned = model
            with clock("predict"):  # timed apart: Table VIII's FPS is inference only
                told = counting(clock.tell, "prediction", frames.shape[0])
                maps = predict_maps(model, frames, **cfg.predict_args(), callback=told)
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
        return maps, losses, tuned

    # -- one buffer, one video ------------------------------------------------------------------------------
    def buffer_seed(self, b: int) -> int:
        """The seed of buffer ``b`` (from 0) wherever it runs — :meth:`run`, ``run_to_dir``, the engines, a stream,
        ``vsodboost export --buffer``: ``seed + b``, so every driver gives the same maps."""
        return self.seed + b

    def run_buffer(self, video: Video, start: int, stop: int, *, seed: int | None = None,
                   init: torch.nn.Module | None = None, on_stage: OnStage | None = None,
                   on_iteration: Callable[[int, float], None] | None = None) -> BufferOutput:
        """Frames ``start:stop`` of ``video`` through motion → mine → fine-tune → fuse, with the documented fallbacks
        (docs/reliability.md). ``seed`` defaults to :meth:`buffer_seed` of ``start // buffer_size`` (what :meth:`run` uses).
        ``on_stage(stage, done, total)``: each stage as it starts, each iteration, each batch predicted."""
        seed = self.buffer_seed(start // self.config.buffer_size) if seed is None else seed
        clock, where = Stopwatch(on_stage), f"buffer {start}:{stop}"
        with torch_threads(self.threads):
            with clock("read"):  # frames longer than work_max_side: downscaled one by one (vsodboost/workres.py)
                clip = working_clip(video, start, stop, self.config.work_max_side)
                frames = clip.tensor()
            with clock("target"):  # the maps' one change of form in: one tensor (T,H,W) and a mask (T,)
                target = TargetStack.of(predict_buffer(self.target, clip, start, full_size=video.full_size),
                                        tuple(frames.shape[-2:]))
            teach, warnings = teachable(target.maps, target.has, clip.names, where)  # flat maps are never mined
            n, sel = stop - start, without_motion(target.has, teach, where)
            hq, cons, motion_map = np.zeros(n), np.full(n, np.nan), None
            if sel is None:
                with clock("flow"):
                    flow_images = self.motion(frames)  # step 1
                with clock("mqpm+filter"):
                    hq, cons, sel, motion_map = self._mine(flow_images, target.maps, teach, seed)  # step 2
                notify(self.observers, "on_mined", MiningRecord(video.name, start, stop, list(clip.names),
                                                                flow_images, hq, motion_map, cons, sel))
            warnings += [f"{where}: {w}" for w in sel.warnings]
            maps, losses, tuned = self._tune_and_predict(frames, target.maps, sel.indices, seed, init, on_iteration,
                                                         clock)
            why = collapse(maps) if sel.indices else ""
            if why:  # e.g. a huge lr: one constant or NaN everywhere
                warnings.append(f"{where}: fine-tuning collapsed ({why}); kept the target's maps for this buffer — "
                                f"lower finetune.lr (now {self.config.finetune.lr:g}) or finetune.iterations")
            keep = sel.keep_target or bool(why)
            missing = np.flatnonzero(~target.has).tolist() if keep else []
            pre = predict_maps(self.spatial, frames[missing], **self.config.finetune.predict_args()) \
                if missing else None  # frames a kept target has no map for: the pretrained model's maps
            weights = motion_weights(None if keep else motion_map, maps, target.maps, target.has,
                                     gain=self.config.fusion_gain, size=self.config.consistency_size,
                                     target_consistency=cons)  # the motion rule's, whichever rule runs
            boosted = fuse_buffer(maps, target.maps, target.has, self.config.fusion, keep_target=keep, pretrained=pre,
                                  weights=weights)
            own = boosted if keep or self.config.fusion == "replace" else maps  # what the run's own model gives
        report = BufferReport(start, stop, [start + i for i in sel.indices], len(sel.candidates), sel.fallback or keep,
                              warnings, dict(clock), [round(x, 5) for x in losses])
        size = video.full_size  # the maps' one change of form out: a map (or None) per frame, at working size
        out = BufferOutput(full_size_maps(list(boosted.numpy()), size), full_size_maps(target.to_list(), size), hq,
                           cons, report, weights, None if keep else tuned, full_size_maps(list(own.numpy()), size))
        notify(self.observers, "on_buffer", video, start, stop, out)
        return out

    def load(self, frames: VideoLike, *, name: str | None = None, check_coverage: bool = True) -> Video:
        """``frames`` as a :class:`Video` named ``name`` (a renamed copy of a Video: the caller's is left alone),
        checked before any compute: frame size for the flow, a maps-mode target's coverage (``check_coverage``)."""
        video = load_video(frames, name=name)
        if name is not None and video.name != name:
            video = copy.copy(video)
            video.name = name
        if len(video) >= 2:
            check_flow_size(self.flow, *working_size(*video.full_size, self.config.work_max_side),
                            self.config.flow_max_side, video=video.name, frame_size=video.full_size)
        if check_coverage:
            check_target_coverage(self.target, video)
        return video

    def run(self, frames: VideoLike, *, name: str | None = None,
            progress: Callable[[int, int], None] | bool | None = None, on_stage: OnStage | None = None,
            iteration_progress: Callable[[int, int], None] | None = None, keep_models: bool = False,
            rounds: int = 1) -> BoostResult:
        """Boost a whole video (any input :func:`~vsodboost.video.load_video` accepts), buffer by buffer.

        ``name``: the sequence name a maps-mode target looks up (default: the folder's). ``keep_models``: each
        buffer's tuned model in :attr:`BoostResult.models` (for :meth:`BoostResult.export`), same maps either way.
        ``progress``: None: a bar if stderr is a terminal; True: always; a callable: ``(frames_done, total)``
        per buffer. ``on_stage``: as :meth:`run_buffer`'s. ``iteration_progress``: (done, total) per step.
        ``rounds``: iterated boosting — round ``k + 1`` boosts round ``k``'s maps (read back as written,
        :class:`~vsodboost.target.RoundTarget`); the last round's result is returned, its provenance naming the
        first target (docs/booster.md, "Self-boosting": a second round helped on DAVIS)."""
        rounds = check_int("rounds", rounds, lo=1, hint=" (1: boost once, the paper's method; 2: boost the boosted "
                                                         "maps again)")
        video = self.load(frames, name=name)
        booster, result = self, None
        for k in range(1, rounds + 1):
            if result is not None:
                booster = copy.copy(self)
                booster.target = RoundTarget.of_maps(k - 1, result.names, result.boosted)
            result = booster._run_video(video, progress, on_stage, iteration_progress, keep_models and k == rounds)
        assert result is not None
        if rounds > 1:
            result.provenance["rounds"] = {"rounds": rounds, "first_target": self.target.name}
        return result

    def _run_video(self, video: Video, progress: Any, on_stage: OnStage | None,
                   iteration_progress: Callable[[int, int], None] | None, keep_models: bool) -> BoostResult:
        spans = list(video.buffers(self.config.buffer_size))
        outs: list[BufferOutput] = []
        with SequenceProgress(video.name, len(video), len(spans), progress, on_stage,
                              iteration_progress, self.config.finetune.iterations) as tell:
            for b, (start, stop) in enumerate(spans):
                outs.append(self.run_buffer(video, start, stop, seed=self.buffer_seed(b), **tell.buffer(b, start)))
                if not keep_models:
                    outs[-1].model = None  # each tuned model is freed with its buffer
                tell.done(b, stop)
        return BoostResult.of(video, outs, config=self.config.to_dict(), provenance=self.provenance(),
                              target=self.target.name, explain=lambda: explain_no_match(self.target, video),
                              keep_models=keep_models)

    def stream(self, source: Any, *, name: str | None = None, buffer_size: int | None = None,
               warm_start: bool = False, keep_models: bool = False) -> Iterator[StreamBuffer]:
        """Boost a stream buffer by buffer, yielding each buffer's maps as soon as it is done; on the same frames
        ``stream`` and ``run`` give the same maps (:func:`vsodboost.stream.stream_buffers` says it all).

        ``source``: a camera index, a video file or URL, a folder of frames, or any iterable of uint8 RGB H×W×3
        arrays, opened now (:class:`InputError` if it cannot be). ``buffer_size`` defaults to ``config.buffer_size``.
        ``warm_start=True`` fine-tunes each buffer from the previous buffer's tuned model (a departure from the
        paper); ``keep_models`` puts each tuned model in :attr:`StreamBuffer.model`."""
        size = self.config.buffer_size if buffer_size is None else check_int("buffer_size", buffer_size, lo=1)
        return stream_buffers(self, iter_source(source), name or source_name(source), size, warm_start=warm_start,
                              keep_models=keep_models)


def _without_card(prov: Any) -> Any:
    """A weights provenance without its model-card text, its HQ network's too (an MQPM of two networks)."""
    if not isinstance(prov, dict):
        return prov
    return {k: _without_card(v) if k == "hq" else v for k, v in prov.items() if k != "card"}
