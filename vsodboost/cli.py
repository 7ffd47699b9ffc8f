"""``vsodboost`` command line. Each sub-command lives in ``vsodboost/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which adds its parser and sets ``func(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import VsodboostError

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "vsodboost.commands.demo",
    "vsodboost.commands.boost",
    "vsodboost.commands.stream",
    "vsodboost.commands.export",
    "vsodboost.commands.plugins",
    "vsodboost.commands.eval",
    "vsodboost.commands.train",
    "vsodboost.commands.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsodboost",
        description="Boost a video salient object detection model on the video at hand.",
    )
    parser.add_argument("--version", action="version", version=f"vsodboost {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for modname in COMMANDS:
        importlib.import_module(modname).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VsodboostError as exc:
        print(f"vsodboost {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vsodboost {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
