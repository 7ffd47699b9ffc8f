"""``vsodboost demo``: offline, ~1 minute on CPU — boost an imperfect target on a synthetic clip."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(args.out, frames=args.frames, device=args.device, seed=args.seed)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="boost an imperfect target on a synthetic clip (offline, ~1 min on CPU)")
    p.add_argument("--out", default="vsodboost-demo", help="folder for the side-by-side image/video and maps")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
