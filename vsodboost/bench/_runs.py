"""Boosting runs behind ``vsodboost bench``: a Booster that records what the report needs, and variants.

Every run goes through :func:`vsodboost.booster.run_to_dir`, so it is resumable buffer by buffer; the recording
Booster also writes, within the same buffer step (before the buffer is marked done), the target's maps, the MQPM's
motion saliency maps and Θ's motion saliency maps of that buffer.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..booster import Booster
from ..config import BoostConfig
from ..datasets import SequenceData
from ..errors import InputError
from ..io import atomic_link_or_copy, write_map_atomic
from ..mining import Selection, select_frames
from ..results import BufferOutput, MiningRecord
from ._provenance import _Models, _weights_for

__all__ = ["BenchRuns", "recording_booster", "random_frames_booster", "Recorder", "random_frames"]


class Recorder:
    """A Booster observer that writes, per buffer, ``<record>/target/<seq>/<stem>.png`` (the target's maps:
    published files are mirrored byte for byte, live maps written as 8-bit PNG), ``<record>/motion/<seq>/`` (MQPM
    motion saliency, at flow resolution), ``<record>/theta/<seq>/`` (Θ of the colour-coded flow) and
    ``<record>/spatial/<seq>/`` (the fine-tuned spatial model's own maps: the output with ``fusion="replace"``)."""

    def __init__(self, record: Path, target: Any, theta: Any = "default") -> None:
        from ..mqpm.theta import get_theta

        self.record, self.target, self.theta = Path(record), target, get_theta(theta)

    def _dir(self, kind: str, seq: str) -> Path:
        d = self.record / kind / seq
        d.mkdir(parents=True, exist_ok=True)
        return d

    def on_mined(self, rec: MiningRecord) -> None:
        motion = rec.motion_saliency.detach().float().cpu().numpy()
        theta = self.theta(rec.flow_images.cpu()).detach().float().cpu().numpy()
        dm, dt = self._dir("motion", rec.sequence), self._dir("theta", rec.sequence)
        for i, n in enumerate(rec.names):
            write_map_atomic(dm / f"{n}.png", motion[i])
            write_map_atomic(dt / f"{n}.png", theta[i])

    def on_buffer(self, video: Any, start: int, stop: int, out: BufferOutput) -> None:
        ds = self._dir("spatial", video.name)  # the paper's output (fusion "replace"), beside the fused one
        for n, m in zip(video.names[start:stop], out.spatial):
            write_map_atomic(ds / f"{n}.png", m)
        src = self._published_maps(video)
        d = self._dir("target", video.name)
        for n, m in zip(video.names[start:stop], out.target):
            if m is None:
                continue
            if src is not None and n in src:
                atomic_link_or_copy(src[n], d / f"{n}{src[n].suffix.lower()}")
            else:
                write_map_atomic(d / f"{n}.png", m)

    def _published_maps(self, video: Any) -> dict[str, Path] | None:
        """Source files of a maps-mode target (so its numbers are those of the published maps), else None."""
        from ..adapters import PrecomputedTarget

        t = self.target
        if not isinstance(t, PrecomputedTarget):
            return None
        try:
            return t.map_files(t.sequence or video.name)
        except Exception:  # noqa: BLE001 - fall back to writing the maps the Booster saw
            return None


def recording_booster(target: Any, *, record: Path, theta: Any = "default", **kw: Any) -> Booster:
    """A :class:`Booster` with a :class:`Recorder` observing it (what ``vsodboost bench``'s main run records)."""
    return Booster(target, observers=[Recorder(record, target, theta)], **kw)


def random_frames(hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, *, period: int,
                  threshold: float, seed: int) -> Selection:
    """The paper's "MS−MQPM" control: as many frames as the MQPM's selection keeps, drawn at random (seeded by the
    buffer's seed) among the frames with a target map."""
    sel = select_frames(hq_prob, consistency, has_target, period=period, threshold=threshold)
    has = [int(i) for i in np.flatnonzero(has_target)]
    rng = np.random.default_rng(seed)
    k = min(len(sel.indices), len(has))
    pick = sorted(int(i) for i in rng.choice(has, size=k, replace=False)) if k else []
    return Selection(pick, has, fallback=sel.fallback,
                     warnings=sel.warnings + ([f"random control: kept {pick}"] if pick else []))


def random_frames_booster(target: Any, **kw: Any) -> Booster:
    """A :class:`Booster` whose mined frames are :func:`random_frames`."""
    return Booster(target, selector=random_frames, **kw)


def _run_booster(target: Any, *, kind: str, models: "_Models | None" = None, record: Path | None = None,
                 theta: Any = "default", mqpm: Any, spatial: Any, device: str, **kw: Any) -> Booster:
    """The Booster of one bench run: ``kind`` ``"main"`` (records target, motion, Θ and spatial maps under
    ``record``), ``"random"`` (random frames, Table III's control rows) or ``"mqpm"`` (the Booster as it is).
    ``models`` caches loaded weights in this process; without it (a Ray worker) they load from names or paths."""
    from .._device import resolve_device

    models = models or _Models(resolve_device(device))
    kw.update(mqpm=models.mqpm(mqpm), spatial=models.spatial(spatial), device=device)
    if kind == "main":
        return recording_booster(target, record=record, theta=theta, **kw)
    return random_frames_booster(target, **kw) if kind == "random" else Booster(target, **kw)


@dataclass
class BenchRuns:
    """The boosting runs of one bench report, on ``engine``: calling it with a run's ``kind`` (its log label) and
    ``root`` boosts every sequence into ``root/<seq>``, one job per sequence, whose Booster is built where the job
    runs (Ray: from names and paths, so loaded models are refused); the keyword arguments vary one setting of the
    report's main run. Returns the run summaries by sequence."""

    engine: Any
    seqs: Sequence[SequenceData]
    out: Path
    target: Any
    mqpm: Any
    spatial: Any
    flow: str
    config: BoostConfig
    preset: str | None
    theta: Any
    device: Any
    seed: int
    threads: int
    overwrite: bool
    models: _Models
    log: Callable[[str], None]

    def __call__(self, kind: str, root: Path, *, flow_name: str | None = None, config_: BoostConfig | None = None,
                 target_: Any = None, random_frames: bool = False, seed_: int | None = None
                 ) -> dict[str, dict[str, Any]]:
        from ..engines import Job

        runner = self.engine
        how = "main" if kind == "main" else "random" if random_frames else "mqpm"
        jobs = []
        for seq in self.seqs:
            weights = {"mqpm": _weights_for(self.mqpm, seq.name), "spatial": _weights_for(self.spatial, seq.name)}
            loaded = [k for k, w in weights.items() if not isinstance(w, str)]
            if loaded and runner.name != "local":
                raise InputError(f"--engine {runner.name} rebuilds the models in each worker: give "
                                 f"{' and '.join(loaded)} as a name or a weights path, not a loaded model")
            builder = functools.partial(
                _run_booster, self.target if target_ is None else target_, kind=how, record=self.out,
                theta=self.theta, flow=self.flow if flow_name is None else flow_name,
                config=self.config if config_ is None else config_, preset=self.preset, device=str(self.device),
                seed=self.seed if seed_ is None else seed_, threads=self.threads, **weights,
                models=self.models if runner.name == "local" else None)
            jobs.append(Job(seq.name, seq.video(), str(root / seq.name), seq.name, spec=builder))
        summaries: dict[str, dict[str, Any]] = {}
        t0 = time.perf_counter()
        for job, outcome in runner.run(None, jobs, overwrite=self.overwrite):
            if isinstance(outcome, Exception):
                raise outcome
            summaries[job.sequence] = outcome
            n_buf, n_run = len(outcome["buffers_done"]), outcome["buffers_run"]
            state = "done earlier, skipped" if n_run == 0 else f"{n_run}/{n_buf} buffer(s) run"
            self.log(f"[{kind}{'' if runner.name == 'local' else ' on ' + runner.name}] {job.sequence}: "
                     f"{len(outcome['settings']['frames'])} frames, {state} "
                     f"({time.perf_counter() - t0:.1f} s since start)")
        return summaries
