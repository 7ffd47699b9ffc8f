"""``vsodboost demo``: offline, a few minutes at most on CPU — boost an imperfect target on a synthetic clip."""

from __future__ import annotations

import argparse

from ._common import (add_device_argument, add_quiet_argument, add_seed_argument, add_threads_argument,
                      apply_threads, positive_int)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    apply_threads(args.threads)
    run_demo(args.out, frames=args.frames, device=args.device, seed=args.seed, progress=not args.quiet,
             threads=args.threads)
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="vsodboost-demo", help="folder for the side-by-side image/video and maps")
    p.add_argument("--frames", type=positive_int, default=40, help="length of the synthetic clip in frames")
    add_device_argument(p)
    add_seed_argument(p, "seed of the synthetic clip and of the fine-tuning")
    add_threads_argument(p)
    add_quiet_argument(p)
