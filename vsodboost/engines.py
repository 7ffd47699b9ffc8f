"""Where the sequences of a dataset run: one after another in this process (``local``) or as Ray tasks (``ray``).

Both engines run the same resumable writer (:mod:`vsodboost.runner`): the local engine calls
:func:`~vsodboost.runner.run_to_dir` once per sequence; the Ray engine runs its steps as tasks — open the sequence's
folder, one task per buffer left, finish — with the driver the only writer of each state file. Their maps and
``vsodboost.json`` settings are the same for the same seed (buffer ``b`` is seeded ``seed + b`` wherever it runs),
and a run killed under one engine resumes under the other (docs/engines.md). A Ray task never receives a loaded
model: it gets a :class:`BoostSpec` (names, weight paths, config dict, seed — all picklable) and rebuilds the
:class:`~vsodboost.booster.Booster` in the worker, once per worker process and spec.

Ray is an optional extra (``pip install "vsodboost[ray]"``); without it :func:`get_engine` ``("ray")`` raises
:class:`~vsodboost.errors.MissingExtraError`."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from .errors import MissingExtraError, UsageError, VsodboostError

if TYPE_CHECKING:
    from .booster import Booster

__all__ = ["BoostSpec", "Job", "LocalEngine", "RayEngine", "build_booster", "get_engine", "run_job", "ENGINES"]

ENGINES = ("local", "ray")

#: ``progress(job)`` → ``(frames_done(done, total), iterations(done, total))`` callbacks for that job, or with
#: a third, ``on_stage(stage, done, total)`` (``vsodboost._steps.OnStage``); any may be None. The Ray
#: engine calls it in the driver when the job's folder is opened, then only ``frames_done``, per buffer
#: written.
ProgressFactory = Callable[["Job"], "tuple[Callable[..., None] | None, ...]"]


@dataclass(frozen=True)
class BoostSpec:
    """Everything needed to rebuild a :class:`~vsodboost.booster.Booster` in another process.

    ``target`` is what :class:`Booster` takes (a registered name, or a picklable TargetModel), or a zero-argument
    picklable callable returning one — e.g. ``functools.partial(vsodboost.commands.boost.parse_target, spec,
    args)`` — which is called in the worker. ``flow``, ``mqpm`` and ``spatial`` are names or weight paths (never
    loaded models); ``config`` is a dict of BoostConfig fields laid over the preset's. ``threads``: the
    Booster's ``threads=`` (torch CPU threads while a buffer runs; 1 as the Booster's default, 0 leaves the
    process's setting).
    """

    target: Any
    flow: str = "dis"
    mqpm: str = "default"
    spatial: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    preset: str | None = None
    device: str = "auto"
    seed: int = 0
    threads: int = 1

    def build(self) -> "Booster":
        from .booster import Booster

        target = self.target
        if isinstance(target, functools.partial) or (callable(target) and not hasattr(target, "predict")
                                                     and not isinstance(target, type)):
            target = target()
        return Booster(target, flow=self.flow, mqpm=self.mqpm, spatial=self.spatial, config=dict(self.config),
                       preset=self.preset, device=self.device, seed=self.seed, threads=self.threads)


@dataclass(frozen=True)
class Job:
    """One sequence to boost: its frames (folder, video file, or a picklable VideoLike such as a lazy
    :class:`~vsodboost.video.Video` of paths), the output folder and the name its maps go by. ``spec``, when given,
    replaces the engine's spec for this job (per-sequence weights): a :class:`BoostSpec` or a picklable zero-argument
    callable returning a Booster."""

    sequence: str
    frames: Any
    out: str
    name: str | None = None
    spec: Any = None
    rounds: int = 1


def build_booster(spec: Any) -> "Booster":
    """A Booster from a :class:`BoostSpec` or from a zero-argument callable (a builder) returning one."""
    if isinstance(spec, BoostSpec):
        return spec.build()
    if callable(spec):
        return spec()
    raise UsageError(f"expected a BoostSpec or a zero-argument callable returning a Booster, got {type(spec).__name__}")


#: What an engine yields per job: the run_to_dir summary, or the VsodboostError that job raised.
Outcome = "dict[str, Any] | VsodboostError"


def run_job(booster: "Booster", job: Job, *, overwrite: bool = False,
            progress: Callable[[int, int], None] | None = None,
            iteration_progress: Callable[[int, int], None] | None = None,
            on_stage: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """One sequence through the resumable writer — the unit of work of every engine."""
    from .runner import run_to_dir

    return run_to_dir(booster, job.frames, job.out, name=job.name or job.sequence, overwrite=overwrite,
                      progress=progress, iteration_progress=iteration_progress, on_stage=on_stage, rounds=job.rounds)


def _callbacks(progress: ProgressFactory | None, job: Job) -> tuple[Any, Any, Any]:
    """``progress(job)``'s two or three callbacks, padded with None to three."""
    got = tuple(progress(job) or ()) if progress else ()
    return (got + (None, None, None))[:3]  # type: ignore[return-value]


class LocalEngine:
    """The sequences one after another in this process, with one Booster (today's loop)."""

    name = "local"

    def run(self, spec: Any, jobs: Iterable[Job], *, overwrite: bool = False,
            progress: ProgressFactory | None = None) -> Iterator[tuple[Job, Any]]:
        """Yield ``(job, summary or VsodboostError)`` per job, in order; ``spec`` is a Booster (used as it is), a
        :class:`BoostSpec` or a builder, or None when every job has its own. Errors other than VsodboostError
        raise."""
        shared = build_booster(spec) if isinstance(spec, BoostSpec) or _is_builder(spec) else spec
        for job in jobs:
            frames_cb, iter_cb, stage_cb = _callbacks(progress, job)
            try:
                booster = shared if job.spec is None else build_booster(job.spec)
                yield job, run_job(booster, job, overwrite=overwrite, progress=frames_cb,
                                   iteration_progress=iter_cb, on_stage=stage_cb)
            except VsodboostError as exc:
                yield job, exc


# -- Ray ------------------------------------------------------------------------------------------------------------
#: per Ray worker process: the Booster of each spec (by its repr), built once and reused by the tasks that follow
_WORKER_BOOSTERS: dict[str, "Booster"] = {}


def _worker_booster(spec: Any, threads: int) -> "Booster":
    import torch

    if threads:
        torch.set_num_threads(threads)  # this worker process only: workers do not oversubscribe the cores
        import cv2

        cv2.setNumThreads(threads)  # OpenCV's own pool (DIS flow, resizing) too
    key = repr(spec)
    booster = _WORKER_BOOSTERS.get(key)
    if booster is None:
        booster = _WORKER_BOOSTERS[key] = build_booster(spec)
    return booster


def _ray_step(step: str, spec: Any, job: Job, threads: int, run: Any = None, b: int = -1,
              overwrite: bool = False) -> tuple[bool, Any]:
    """Body of every Ray task: one step of the resumable writer (:mod:`vsodboost.runner`) for ``job``.

    ``open`` → the :class:`~vsodboost.runner.SequenceRun` (settings checked, state file written); ``buffer`` → the
    record of buffer ``b`` (its maps written); ``finish`` → the summary. Returns ``(True, value)`` or
    ``(False, VsodboostError)``: typed errors travel as values."""
    from .runner import open_run, run_buffer_to_dir

    try:
        booster = _worker_booster(spec, threads)
        # the target's coverage is checked once, when the sequence is opened, not again for each buffer
        video = booster.load(job.frames, name=job.name or job.sequence, check_coverage=step == "open")
        if step == "open":
            return True, open_run(booster, video, job.out, overwrite=overwrite)
        if step == "buffer":
            return True, run_buffer_to_dir(booster, video, run, b)
        return True, run.finish(booster, video)
    except VsodboostError as exc:
        return False, exc


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # also raised for sys.modules['ray'] = None
        raise MissingExtraError(
            "--engine ray needs Ray, which is not installed: pip install \"vsodboost[ray]\" (or pip install ray); "
            "or use --engine local") from exc
    return ray


class RayEngine:
    """The steps of :func:`~vsodboost.runner.run_to_dir` as Ray tasks: a sequence is opened, boosted buffer by
    buffer (one task per buffer, so the buffers of a long sequence run side by side) and finished in worker
    processes; the state file is written by the driver.

    Without ``address`` a local Ray starts with ``num_cpus=workers`` (default: this machine's CPU count) and is shut
    down afterwards; with ``address`` (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``) the run joins that
    cluster, whose nodes must have vsodboost and the data and output paths (shared storage). When Ray is already
    initialised in this process, that session is used and left running. ``threads``: torch and OpenCV threads per
    worker (default 1; 0 leaves the libraries' settings); each task asks for one CPU, and at most ``workers`` tasks
    are in flight.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, workers: int | None = None, threads: int = 1) -> None:
        if workers is not None and workers < 1:
            raise UsageError(f"--workers {workers}: give an integer ≥ 1 (Ray worker processes)")
        if threads < 0:
            raise UsageError(f"--threads {threads}: give an integer ≥ 0 (torch threads per worker)")
        self.ray = _import_ray()
        self.address, self.workers, self.threads = address, workers, threads

    def _start(self) -> bool:
        """Initialise Ray unless it already is; True when this engine started it (and must shut it down)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            ray.init(num_cpus=self.workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
        return True

    def run(self, spec: Any, jobs: Iterable[Job], *, overwrite: bool = False,
            progress: ProgressFactory | None = None) -> Iterator[tuple[Job, Any]]:
        """Yield ``(job, summary or VsodboostError)`` per job, in the order given, each as soon as it and those
        before it are done. ``spec``: a :class:`BoostSpec` or a picklable builder, or None when every job has its
        own. ``progress(job)`` is called in the driver when a job is opened; of its callbacks only
        ``frames_done(done, total)`` is called, each time one of the job's buffers is written (in the order
        the buffers finish, ``done`` counting every written frame): the work happens in other processes.

        Each job is opened by one task, then each of its buffers left to run is a task of its own, then one task
        finishes it. Tasks wait in a queue and at most ``workers`` are in flight; the queue hands out finishing and
        opening steps first (they take milliseconds and unlock work), then buffers longest first, so the last
        tasks to end on the workers are short ones.
        """
        jobs = list(jobs)
        if any(job.rounds != 1 for job in jobs):
            raise UsageError("rounds > 1 (iterated boosting) runs with the local engine only: each round needs the "
                             "whole previous round's maps; drop --engine ray or --rounds")
        for s in [spec] + [j.spec for j in jobs]:
            if s is not None and not (isinstance(s, BoostSpec) or _is_builder(s)):
                raise UsageError("the ray engine rebuilds the Booster in each worker: give a BoostSpec (names, weight "
                                 f"paths, config, seed) or a picklable builder, not a {type(s).__name__}")
        ray = self.ray
        started = self._start()
        try:
            yield from self._schedule(ray, spec, jobs, overwrite, progress)
        finally:
            if started:
                ray.shutdown()

    def _schedule(self, ray: Any, spec: Any, jobs: list[Job], overwrite: bool,
                  progress: ProgressFactory | None = None) -> Iterator[tuple[Job, Any]]:
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_step)
        specs = [ray.put(job.spec if job.spec is not None else spec) for job in jobs]
        limit = self.workers or len(jobs) or 1
        # the queue: (priority, job index, step, buffer); lower first. Steps that take milliseconds go first, then
        # buffers by decreasing length (longest processing time first: the tail of the schedule is short tasks)
        queue: list[tuple[float, int, str, int]] = [(-1e6, j, "open", -1) for j in range(len(jobs))]
        in_flight: dict[Any, tuple[int, str, int]] = {}
        runs: dict[int, Any] = {}
        left: dict[int, set[int]] = {}
        outcomes: dict[int, Any] = {}
        told: dict[int, Any] = {}  # job → its frames_done callback (or None)
        handed = 0
        while queue or in_flight:
            queue.sort()
            while queue and len(in_flight) < limit:
                _, j, step, b = queue.pop(0)
                if j in outcomes:  # that job already failed: drop its other steps
                    continue
                ref = task.remote(step, specs[j], jobs[j], self.threads, runs.get(j), b, overwrite)
                in_flight[ref] = (j, step, b)
            if not in_flight:
                continue
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            j, step, b = in_flight.pop(ref)
            ok, value = ray.get(ref)
            if j in outcomes:
                pass
            elif not ok:
                outcomes[j] = value
            elif step == "open":
                runs[j], left[j] = value, set(value.todo)
                told[j] = _callbacks(progress, jobs[j])[0]
                queue += [(-float(value.spans[k][1] - value.spans[k][0]), j, "buffer", k) for k in value.todo]
                if not value.todo:
                    queue.append((-1e9, j, "finish", -1))
            elif step == "buffer":
                runs[j].record(b, value)  # here, in the driver: the one writer of the state file while tasks run
                left[j].discard(b)
                if told.get(j) is not None:
                    spans = runs[j].spans
                    written = sum(stop - start for k, (start, stop) in enumerate(spans) if k not in left[j])
                    told[j](written, spans[-1][1])
                if not left[j]:
                    queue.append((-1e9, j, "finish", -1))
            else:
                outcomes[j] = value
            while handed < len(jobs) and handed in outcomes:  # hand back what is done, in order
                yield jobs[handed], outcomes[handed]
                handed += 1


def _is_builder(obj: Any) -> bool:
    """A zero-argument callable that builds a Booster (not a Booster, not a class)."""
    return callable(obj) and not hasattr(obj, "run_buffer") and not isinstance(obj, type)


def get_engine(name: str, *, address: str | None = None, workers: int | None = None,
               threads: int = 1) -> LocalEngine | RayEngine:
    """``local`` or ``ray`` (:class:`RayEngine` options); ``address``/``workers`` with ``local`` are refused.
    ``threads`` applies to Ray workers; the local engine runs with this process's torch setting."""
    if name == "local":
        if address or workers is not None:
            raise UsageError(f"--{'address' if address else 'workers'} is an option of the Ray engine; add "
                             "--engine ray, or drop it to run locally")
        return LocalEngine()
    if name == "ray":
        return RayEngine(address=address, workers=workers, threads=threads)
    raise UsageError(f"--engine {name!r}: choose one of {', '.join(ENGINES)}")
