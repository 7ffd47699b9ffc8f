"""What several sub-commands share: argparse types for bounded integers and the options more than one command takes
(``--device``, ``--seed``, ``--threads``, ``-q/--quiet``, ``--engine``/``--address``/``--workers``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["positive_int", "non_negative_int", "seed_int", "add_device_argument", "add_seed_argument",
           "add_threads_argument", "add_quiet_argument", "add_engine_arguments", "apply_threads", "positive_float",
           "lock_out"]

_SEED_MAX = 2**63 - 1


def _int_in(text: str, lo: int, hi: int | None, expected: str) -> int:
    """``text`` as an integer in [lo, hi] (no upper bound when ``hi`` is None), else an ``ArgumentTypeError``
    saying ``expected an integer <expected>, got …`` (argparse prints it and exits with status 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer {expected}, got {text!r}") from None
    if value < lo or (hi is not None and value > hi):
        raise argparse.ArgumentTypeError(f"expected an integer {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (``--buffer-size 0`` is refused, not ignored)."""
    return _int_in(text, 1, None, "≥ 1")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``--fps 0`` would write no video and still exit 0)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def lock_out(args: argparse.Namespace, folder: Any) -> None:
    """Hold the lock of the output folder ``folder`` until the command ends (:func:`vsodboost.io.output_lock`;
    the CLI releases it): a second run on it is refused at once. Called directly (no ``args.locks``), nothing is
    held here; the library's writers lock the folder themselves."""
    from ..io import output_lock

    stack = getattr(args, "locks", None)
    if stack is not None:
        stack.enter_context(output_lock(folder))


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0."""
    return _int_in(text, 0, None, "≥ 0")


def seed_int(text: str) -> int:
    """argparse type: a seed in [0, 2**63-1]."""
    return _int_in(text, 0, _SEED_MAX, "in [0, 2**63-1]")


def add_device_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'…")


def add_seed_argument(p: argparse.ArgumentParser, text: str = "same seed → same maps on CPU (0 … 2**63-1)") -> None:
    p.add_argument("--seed", type=seed_int, default=0, help=text)


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=non_negative_int, default=1,
                   help="torch CPU threads (default 1: fine-tuning 4-10x faster than torch's default when other jobs "
                        "share the CPU, docs/threads.md; 0 keeps torch's default); set process-wide with "
                        "torch.set_num_threads")


def add_quiet_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_engine_arguments(p: argparse.ArgumentParser, what: str = "the sequences") -> None:
    """``--engine local|ray``, ``--address``, ``--workers`` (docs/engines.md)."""
    p.add_argument("--engine", default="local", choices=("local", "ray"),
                   help=f"where {what} run: local (default), one sequence after another in this process; ray, each "
                        "buffer a Ray task (pip install \"vsodboost[ray]\"), same maps, resumable under either — "
                        "docs/engines.md")
    p.add_argument("--address", default=None,
                   help="with --engine ray: join this Ray cluster ('auto', 'ray://HOST:10001'); default: start a "
                        "local Ray with --workers CPUs")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="with --engine ray: worker processes (at most this many buffers at once; default: the "
                        "CPU count); each uses --threads torch threads")


def apply_threads(n: int) -> None:
    """``--threads``: ``torch.set_num_threads(n)`` (process-wide); 0 keeps torch's default."""
    if n:
        import torch

        torch.set_num_threads(n)
