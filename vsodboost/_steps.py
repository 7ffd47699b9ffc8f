"""Plumbing around the Booster's three steps, kept out of its way: per-stage timers, progress (fine-tuning
counted over a whole video; the per-sequence bar in frames that names the stage), and torch state (RNG seed,
CPU threads) set for one buffer and restored after it."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import IO, Any, Callable, Iterator

import torch

__all__ = ["Stopwatch", "IterationProgress", "seeded", "torch_threads", "effective_threads", "both",
           "check_threads", "counting", "show_bar", "FrameBar", "SequenceProgress", "OnStage",
           "STAGES"]

#: ``on_stage(stage, done, total)``: what a buffer is doing now — ``"read"``, ``"target"``, ``"flow"``,
#: ``"mining"``, ``"fine-tuning"`` (iterations ``done``/``total``), ``"prediction"`` (frames
#: ``done``/``total`` of the buffer). Before a buffer is computed the drivers (``Booster.run``,
#: ``run_to_dir``) add ``"frames"`` (the video's frames done before it / all) and ``"buffer"`` (its number
#: from 1 / the buffers). ``total`` is 0 where there is no count.
OnStage = Callable[[str, int, int], None]

#: The Booster's timed stages (``BufferReport.timings`` keys) → the names the bar and ``on_stage`` use.
STAGES = {"read": "read", "target": "target", "flow": "flow", "mqpm+filter": "mining",
          "finetune": "fine-tuning", "predict": "prediction"}


class Stopwatch(dict):
    """Seconds per stage, in the order the stages ran: ``with clock("flow"): ...`` adds to ``clock["flow"]``.
    ``tell``: an ``on_stage`` told as each stage without a count starts (fine-tuning and prediction count
    their steps themselves: :func:`counting`)."""

    def __init__(self, tell: OnStage | None = None) -> None:
        super().__init__()
        self.tell = tell

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.tell is not None and stage not in ("finetune", "predict"):
            self.tell(STAGES.get(stage, stage), 0, 0)
        t = time.perf_counter()
        try:
            yield
        finally:
            self[stage] = self.get(stage, 0.0) + time.perf_counter() - t


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's default RNG (CPU, and ``device`` when it is a CUDA device) seeded with ``seed``,
    restoring the caller's RNG state afterwards: same seed → same maps, without changing the process's RNG.
    (Fine-tuning draws its crops from its own ``torch.Generator``; this covers what a model draws itself.)"""
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for d in cuda:
            with torch.cuda.device(d):
                torch.cuda.manual_seed(seed)
        yield


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """``torch.set_num_threads(n)`` for the block, then the caller's setting again; 0 or None leaves torch
    as it is (and so does ``n`` equal to the current setting: nothing to set or restore)."""
    if not n or torch.get_num_threads() == n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_threads(n: int | None) -> int:
    """``Booster(threads=)``: an integer ≥ 0 (0 or None: torch's own setting), else :class:`InputError`."""
    from ._checks import check_int

    hint = " (torch CPU threads; 0 leaves torch's setting; 1, the default, on a busy machine)"
    return 0 if n is None else check_int("threads", n, lo=0, hint=hint)


def effective_threads(n: int | None) -> int:
    """The torch CPU threads a buffer runs on under ``torch_threads(n)``: ``n``, else torch's own."""
    return n or torch.get_num_threads()


def both(a: Callable[..., None] | None, b: Callable[..., None] | None) -> Callable[..., None] | None:
    """Call ``a`` and ``b`` (either may be None) with the same arguments: progress ``(done, total)`` or a stage
    event ``(stage, done, total)``; None when both are."""
    if a is None or b is None:
        return a or b
    return lambda *args: (a(*args), b(*args))  # type: ignore[func-returns-value]


class IterationProgress:
    """Fine-tuning iterations routed to ``callback(done, total)``, counted over the whole video (total =
    iterations × buffers). ``for_buffer(b)`` gives the ``on_iteration`` of buffer ``b``; ``buffer_done(b)`` moves the
    count to the end of buffer ``b`` (a buffer with nothing mined does not fine-tune, a resumed one is skipped)."""

    def __init__(self, callback: Callable[[int, int], None] | None, per_buffer: int, buffers: int) -> None:
        self.callback, self.per, self.total = callback, per_buffer, per_buffer * buffers

    def for_buffer(self, b: int) -> Callable[[int, float], None] | None:
        if self.callback is None:
            return None
        base, cb = b * self.per, self.callback
        return lambda it, loss: cb(min(base + it, base + self.per), self.total)

    def buffer_done(self, b: int) -> None:
        if self.callback is not None:
            self.callback((b + 1) * self.per, self.total)


def counting(on_stage: OnStage | None, stage: str, total: int,
             also: Callable[..., None] | None = None) -> Callable[..., None] | None:
    """Tell ``on_stage(stage, 0, total)`` now and return ``f(k, ...)`` that tells ``(stage, k, total)`` after
    calling ``also(k, ...)`` (e.g. fine-tuning's ``on_iteration(it, loss)``); ``also`` when there is no
    ``on_stage``."""
    if on_stage is None:
        return also

    def tell(k: int, *rest: Any) -> None:
        if also is not None:
            also(k, *rest)
        on_stage(stage, k, total)

    on_stage(stage, 0, total)
    return tell


def show_bar(progress: Any, file: IO[str] | None = None) -> bool:
    """``progress=True`` → a bar; ``None`` → a bar only when ``file`` (stderr) is a terminal; else none."""
    if progress is None:
        stream = sys.stderr if file is None else file
        return bool(getattr(stream, "isatty", lambda: False)())
    return progress is True


class FrameBar:
    """One tqdm bar per sequence, counted in frames, whose postfix names the stage (``buffer 2/3, fine-tuning
    12/30``). A frame counts once its map is predicted, so the bar moves during prediction and its rate is
    frames per second of the whole run (``smoothing=0``: no bursts). Drawn at the first stage event, so a run
    with nothing left to compute (a finished folder) draws no bar; :meth:`close` then prints ``done_note``.

    Feed it ``frames_done(done, total)`` after each buffer (buffers skipped on resume included) and
    ``stage(stage, done, total)`` (:data:`OnStage`) while a buffer is computed."""

    def __init__(self, desc: str, total: int | None = None, *, enabled: bool = True, leave: bool = True,
                 file: IO[str] | None = None) -> None:
        self.desc, self.total, self.enabled, self.leave, self.file = desc, total, enabled, leave, file
        self.base, self.where, self.bar = 0, "", None  # frames of finished buffers, "buffer b/B", the bar

    def _bar(self) -> Any:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, unit="frame", leave=self.leave, smoothing=0,
                            dynamic_ncols=True, file=self.file if self.file is not None else sys.stderr)
            self.bar.n = self.base
        return self.bar

    def frames_done(self, done: int, total: int) -> None:
        self.base, self.total = done, total
        if self.bar is not None:
            self.bar.total, self.bar.n = total, done
            self.bar.refresh()

    def stage(self, stage: str, done: int = 0, total: int = 0) -> None:
        if stage == "frames":
            self.frames_done(done, total)
            return
        if stage == "buffer":
            self.where = f"buffer {done}/{total}"
            return
        if not self.enabled:
            return
        bar = self._bar()
        if stage == "prediction":
            bar.n = self.base + done
        what = f"{stage} {done}/{total}" if total else stage
        bar.set_postfix_str(f"{self.where}, {what}" if self.where else what, refresh=True)

    def close(self, done_note: str | None = None) -> None:
        """Close the bar; when none was drawn (nothing computed) print ``done_note`` instead, if given."""
        if self.bar is not None:
            if self.total is not None:
                self.bar.n = max(self.bar.n, self.base)
            self.bar.set_postfix_str(self.where, refresh=True)
            self.bar.close()
            self.bar = None
        elif self.enabled and done_note:
            print(done_note, file=self.file if self.file is not None else sys.stderr, flush=True)


class SequenceProgress:
    """What a driver (``Booster.run``, ``run_to_dir``) tells about one sequence of ``total`` frames in
    ``buffers`` buffers: a :class:`FrameBar` (``bar``; default: :func:`show_bar` of ``progress``),
    ``progress(frames_done, total)`` when it is callable, ``on_stage``, and ``iteration_progress`` over
    ``iterations`` per buffer (:class:`IterationProgress`). A context manager; on exit :attr:`done_note` is
    printed when no bar was drawn."""

    def __init__(self, name: str, total: int, buffers: int, progress: Any = None,
                 on_stage: OnStage | None = None,
                 iteration_progress: Callable[[int, int], None] | None = None, iterations: int = 0, *,
                 bar: bool | None = None) -> None:
        self.total, self.buffers = total, buffers
        self.bar = FrameBar(name, total, enabled=show_bar(progress) if bar is None else bar)
        self.frames = both(progress if callable(progress) else None, self.bar.frames_done)
        self.stages = both(on_stage, self.bar.stage if self.bar.enabled else None)
        self.counter = IterationProgress(iteration_progress, iterations, buffers)
        self.done_note: str | None = None

    def buffer(self, b: int, start: int) -> dict[str, Any]:
        """Buffer ``b`` (from 0), from frame ``start``, is about to be computed: its ``on_iteration`` and
        ``on_stage``, as keyword arguments of ``Booster.run_buffer``."""
        if self.stages is not None:
            self.stages("frames", start, self.total)
            self.stages("buffer", b + 1, self.buffers)
        return {"on_iteration": self.counter.for_buffer(b), "on_stage": self.stages}

    def done(self, b: int, stop: int) -> None:
        """Buffer ``b`` (computed or found done) ends at frame ``stop``."""
        self.counter.buffer_done(b)
        self.frames(stop, self.total)

    def __enter__(self) -> "SequenceProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close(self.done_note)
