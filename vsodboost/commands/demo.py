"""``vsodboost demo``: offline, a few minutes at most on CPU — boost an imperfect target on a synthetic clip."""

from __future__ import annotations

import argparse

from .boost import add_threads_argument, apply_threads, positive_int, seed_int


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    apply_threads(args.threads)
    run_demo(args.out, frames=args.frames, device=args.device, seed=args.seed, progress=not args.quiet)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="boost an imperfect target on a synthetic clip (offline, 1–3 min on CPU with --threads 1)",
        description="Boost an imperfect target on a synthetic clip, offline: prints the target's and the boosted "
                    "maps' scores against the synthetic truth and writes a side-by-side image and video.")
    p.add_argument("--out", default="vsodboost-demo", help="folder for the side-by-side image/video and maps")
    p.add_argument("--frames", type=positive_int, default=40, help="length of the synthetic clip in frames")
    p.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'…")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the synthetic clip and of the fine-tuning")
    add_threads_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
