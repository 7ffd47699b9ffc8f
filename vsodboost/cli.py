"""``vsodboost`` command line. Each sub-command lives in ``vsodboost/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which adds its parser and sets ``func(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
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


_SAYS_DEFAULT = re.compile(r"default[: ]|%\(default\)")


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless it says its default already or has none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (_SAYS_DEFAULT.search(text) or default is None or default is False or default == argparse.SUPPRESS
                or not action.option_strings or action.nargs == 0
                or isinstance(action, (argparse._VersionAction, argparse._HelpAction))):
            return text
        return text + " (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsodboost",
        description="Boost a video salient object detection model on the video at hand.",
    )
    parser.add_argument("--version", action="version", version=f"vsodboost {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="`vsodboost COMMAND --help` for its options")
    for modname in COMMANDS:
        importlib.import_module(modname).add_parser(sub)
    for p in iter_parsers(parser):
        p.formatter_class = HelpFormatter
    return parser


def iter_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every sub-command parser under it (depth first)."""
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in dict.fromkeys(action.choices.values()):
                out += iter_parsers(p)
    return out


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
