"""``vsodboost boost FRAMES --target NAME|NAME:ROOT --out DIR``: boost one video, or every sequence of a folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..errors import InputError, UsageError
from ..presets import PRESETS
from ..video import IMAGE_EXTS

METHOD_TARGETS = ("ssav", "mga", "cos", "lsti", "pcsa")


def parse_target(spec: str) -> Any:
    """``NAME`` (a registered target built with no arguments), ``precomputed:ROOT`` or ``<method>:ROOT`` (maps)."""
    from .. import plugins

    name, sep, root = spec.partition(":")
    reg = plugins.targets()
    if name not in reg:
        reg.get(name)  # raises UnknownNameError listing the available targets
    if not sep:
        try:
            return reg.create(name)
        except TypeError as exc:  # a factory that needs arguments (precomputed needs its maps folder)
            raise UsageError(f"--target {spec!r}: {name} needs a maps folder: --target {name}:/path/to/maps "
                             f"({exc})") from exc
    if not root:
        raise InputError(f"--target {spec!r}: give the maps folder after the colon, e.g. {name}:/path/to/maps")
    if name == "precomputed":
        return reg.create(name, root=root)
    return reg.create(name, maps=root)


def sequences_of(frames: Path) -> list[tuple[str, Path]]:
    """A folder of frames → one sequence; a folder of sequence folders (or of ``<seq>/Imgs``) → each of them."""
    if not frames.is_dir():
        return [(frames.stem, frames)]
    if any(f.suffix.lower() in IMAGE_EXTS for f in frames.iterdir() if f.is_file()):
        return [(frames.parent.name if frames.name.lower() in ("imgs", "images") else frames.name, frames)]
    out = []
    for d in sorted(p for p in frames.iterdir() if p.is_dir()):
        img = next((d / s for s in ("Imgs", "imgs", "Images") if (d / s).is_dir()), d)
        if any(f.suffix.lower() in IMAGE_EXTS for f in img.iterdir() if f.is_file()):
            out.append((d.name, img))
    if not out:
        raise InputError(f"{frames} holds neither frames nor sequence folders with frames")
    return out


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (``--buffer-size 0`` is refused, not ignored)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 1, got {value}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a seed in [0, 2**63-1]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63-1], got {text!r}") from None
    if not 0 <= value <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63-1], got {value}")
    return value


def load_config(path: str | None, buffer_size: int | None) -> dict[str, Any]:
    """``--config`` JSON (+ ``--buffer-size``) → the BoostConfig fields given, checked now; every problem is a
    :class:`UsageError` (exit 2). Returns the dict, so the Booster can lay it over its defaults."""
    from ..booster import BoostConfig

    fields: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            text = p.read_text()
        except FileNotFoundError:
            raise UsageError(f"--config {p}: no such file; give a JSON file of BoostConfig fields") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--config {p}: cannot read it ({exc}); give a readable JSON file") from exc
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--config {p}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                             "expected an object such as {\"period\": 5}") from exc
        if not isinstance(fields, dict):
            raise UsageError(f"--config {p}: expected a JSON object of BoostConfig fields, got a JSON "
                             f"{type(fields).__name__}")
    if buffer_size is not None:
        fields = {**fields, "buffer_size": buffer_size}
    try:
        BoostConfig.from_dict(fields)  # each field is checked on its own, so checking the partial dict is enough
    except InputError as exc:
        raise UsageError(f"--config {path}: {exc}" if path else str(exc)) from exc
    return fields


def run(args: argparse.Namespace) -> int:
    from ..booster import Booster, run_to_dir
    from ..io import check_output_dir

    config = load_config(args.config, args.buffer_size)
    target = parse_target(args.target)
    check_output_dir(args.out)  # a read-only or misplaced --out fails now, not after a buffer of compute
    booster = Booster(target, flow=args.flow, mqpm=args.mqpm, spatial=args.spatial, config=config,
                      preset=args.preset, device=args.device, seed=args.seed)
    seqs = sequences_of(Path(args.frames))
    multi = len(seqs) > 1
    for seq, path in seqs:
        out = Path(args.out) / seq if multi else Path(args.out)
        bar = tqdm(total=None, desc=seq, unit="frame", disable=args.quiet)

        def progress(done: int, total: int, bar: tqdm = bar) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        summary = run_to_dir(booster, path, out, name=args.name or seq, overwrite=args.overwrite, progress=progress)
        bar.close()
        mined = sum(len(b["mined"]) for b in summary["buffers_done"].values())
        print(f"{seq}: {len(summary['settings']['frames'])} frames, {mined} mined, maps in {out}")
        for w in summary["warnings"]:
            print(f"  warning: {w}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("boost", help="boost a target's maps on a video (or every sequence of a folder)")
    p.add_argument("frames", help="folder of frames, video file, or folder of sequence folders")
    p.add_argument("--target", required=True,
                   help="registered target name, `precomputed:ROOT`, or `<method>:ROOT` for published maps")
    p.add_argument("--out", required=True, help="output folder (per-sequence subfolders for several sequences)")
    p.add_argument("--flow", default="dis", help="flow backend (see `vsodboost plugins`)")
    p.add_argument("--mqpm", default="default", help="MQPM weights: 'default' (shipped) or a checkpoint path")
    p.add_argument("--preset", default="quality", choices=sorted(PRESETS),
                   help="spatial model + fine-tuning recipe: quality (default: U²-Net-p, mean fusion), fast (Lite0 "
                        "U-Net, geometric fusion, ~4x cheaper on CPU), paper (U²-Net-p, replace) — docs/booster.md")
    p.add_argument("--spatial", default=None, help="spatial model name (see `vsodboost plugins`; default: the preset's)")
    p.add_argument("--config", help="JSON file with BoostConfig fields laid over the preset's "
                                    "(e.g. {\"period\": 5, \"finetune\": {...}})")
    p.add_argument("--buffer-size", type=positive_int, help="frames per buffer (default 100)")
    p.add_argument("--name", help="sequence name used to look up maps (default: the folder name)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=seed_int, default=0, help="same seed → same maps on CPU (0 … 2**63-1)")
    p.add_argument("--overwrite", action="store_true", help="replace results made with other settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
