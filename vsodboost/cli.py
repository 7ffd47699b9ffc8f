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
        _error_line(args.command, exc)
        return int(getattr(exc, "exit_code", 1))
    except OSError as exc:  # the file system said no (permissions, disk full) outside our own checks
        _error_line(args.command, exc)
        return 1
    except KeyboardInterrupt:
        print(f"vsodboost {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def _error_line(command: str, exc: BaseException) -> None:
    """One line ``vsodboost CMD: error: ...`` (no traceback; ``-v`` logs it), notes included."""
    text = " ".join([str(exc) or type(exc).__name__, *getattr(exc, "__notes__", [])])
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    print(f"vsodboost {command}: error: {text}", file=sys.stderr)
    logging.getLogger("vsodboost").info("traceback", exc_info=exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
