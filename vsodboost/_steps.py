"""Plumbing around the Booster's three steps, kept out of its way: per-stage timers, fine-tuning progress counted
over a whole video, and torch state (RNG seed, CPU threads) set for one buffer and restored after it."""

from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterator

import torch

__all__ = ["Stopwatch", "IterationProgress", "seeded", "torch_threads", "both", "progress_bar"]


class Stopwatch(dict):
    """Seconds per stage, in the order the stages ran: ``with clock("flow"): ...`` adds to ``clock["flow"]``."""

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
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
    """``torch.set_num_threads(n)`` for the block, then the caller's setting again; None leaves torch as it is."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def both(a: Callable[[int, int], None] | None, b: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """Call ``a`` (when given) and ``b`` with the same progress."""
    if a is None:
        return b
    return lambda done, total: (a(done, total), b(done, total))  # type: ignore[func-returns-value]


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


@contextlib.contextmanager
def progress_bar(desc: str, show: bool,
                 callback: Callable[[int, int], None] | None) -> Iterator[Callable[[int, int], None] | None]:
    """``show``: a tqdm bar over fine-tuning iterations, fed beside ``callback``; yields the callback to use."""
    if not show:
        yield callback
        return
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="it", leave=False)

    def update(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        yield both(callback, update)
    finally:
        bar.close()
