"""``vsodboost`` command line. Each sub-command is a row of :data:`COMMANDS` (its help and description) and a
module ``vsodboost/commands/<name>.py`` with ``add_arguments(parser)`` (its options) and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import re
import sys

from ._version import __version__
from .errors import VsodboostError

#: Sub-commands in the order ``--help`` lists them: name → (one-line help, description). The module
#: ``vsodboost.commands.<name>`` adds the options (``add_arguments(parser)``) and runs it (``run(args) -> int``).
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("boost an imperfect target on a synthetic clip (offline, 1–3 min on CPU with --threads 1)",
             "Boost an imperfect target on a synthetic clip, offline: prints the target's and the boosted maps' "
             "scores against the synthetic truth and writes a side-by-side image and video."),
    "boost": ("boost a target's maps on a video (or every sequence of a folder)",
              "Boost a target VSOD model's maps on a video, or on every sequence of a folder: mine the frames with "
              "good motion, fine-tune the spatial model on the target's maps there, predict every frame. Over a "
              "folder of sequences, a sequence the target has no maps for is skipped with a warning."),
    "stream": ("boost a camera, video file/URL or folder buffer by buffer while reading it",
               "Boost a camera, a video file or URL, or a folder of frames buffer by buffer while reading it: each "
               "buffer's maps are written as soon as it is done, with its latency in stream.json "
               "(docs/streams_export.md)."),
    "export": ("fine-tune on one buffer of a video and export that model (ONNX, TorchScript)",
               "Fine-tune the spatial model on one buffer of a video, as `boost` does, and export the adapted model "
               "as ONNX and/or TorchScript with its preprocessing.json, to run fast on the rest of the video outside "
               "PyTorch (docs/streams_export.md)."),
    "plugins": ("list registered targets, flow backends and spatial models",
                "List every registered target, flow backend and spatial model with the plugin that provides it. "
                "Third-party plugins register through the `vsodboost` entry-point group (docs/plugins.md); their "
                "targets are then usable as --target NAME and adapters.NAME(...)."),
    "eval": ("score saliency maps against ground truth (MAE, S, F, E, wF)",
             "Score PRED_ROOT/<seq>/<stem>.png maps against the GT of a dataset, matched by sequence and frame "
             "stem. Numbers follow pysodmetrics 1.6.2 (uint8 maps, gt > 128, per-image min-max, beta^2 = 0.3, S "
             "alpha = 0.5)."),
    "train": ("train a network of the method (mqpm, spatial)",
              "Train a network of the method: the MQPM on flow images, or saliency-pretrain the spatial model. "
              "`vsodboost train NETWORK --help` lists its options."),
    "bench": ("boost every sequence of a dataset and report target vs boosted (the paper's tables)",
              "Boost every sequence of a dataset, evaluate the target's and the boosted maps against the GT with "
              "the same code as `vsodboost eval` (pysodmetrics conventions) and write DIR/report.json, "
              "DIR/report.md, plots and side-by-side frames. Resumable."),
}


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
    for name, (help_line, description) in COMMANDS.items():
        command = importlib.import_module(f"vsodboost.commands.{name}")
        p = sub.add_parser(name, help=help_line, description=description)
        p.set_defaults(func=command.run)
        command.add_arguments(p)
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
        with contextlib.ExitStack() as args.locks:  # output-folder locks a command takes, released when it ends
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
