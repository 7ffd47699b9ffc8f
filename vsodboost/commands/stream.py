"""``vsodboost stream SOURCE --target T --out DIR``: boost a camera, video file/URL or folder while reading it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, OutputError
from ._common import apply_threads, lock_out, positive_float
from .boost import add_booster_arguments, load_config, parse_target, target_of


def make_booster(args: argparse.Namespace) -> Any:
    from ..booster import Booster

    apply_threads(args.threads)
    config = load_config(args.config, args.buffer_size)  # checked now, as `boost` does (UsageError: exit 2)
    return Booster(parse_target(*target_of(args)), flow=args.flow, mqpm=args.mqpm, spatial=args.spatial,
                   config=config,
                   preset=args.preset, device=args.device, seed=args.seed, threads=args.threads)


def parse_source(spec: str) -> int | str:
    """``0``, ``1``… → a camera index; anything else → a path or URL."""
    return int(spec) if spec.isdigit() and not Path(spec).exists() else spec


def _side_by_side(frame: np.ndarray, m: np.ndarray) -> np.ndarray:
    import cv2

    gray = np.clip(m * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([frame[:, :, ::-1], cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)], axis=1)


def run(args: argparse.Namespace) -> int:
    import cv2

    from ..io import write_json_atomic, write_map_atomic

    from ..io import LOCK_FILE, check_output_dir, out_path, publish, temp_sibling
    from ..workres import working_maps

    out = Path(args.out)
    if out.is_dir() and any(f.name != LOCK_FILE for f in out.iterdir()) and not args.overwrite:
        raise InputError(f"{out} is not empty; choose another --out or pass --overwrite")
    check_output_dir(out)  # a read-only or misplaced --out fails now, not after a buffer of compute
    lock_out(args, out)  # a second run on this --out is refused now, before any model loads
    booster = make_booster(args)
    buffers = booster.stream(parse_source(args.source), name=args.name, warm_start=args.warm_start)
    writer = None
    opened = False
    video_tmp: Path | None = None  # side_by_side.mp4 is written beside it, then renamed (never through a symlink)
    log: list[dict[str, Any]] = []
    try:
        t = time.perf_counter()
        for b in buffers:
            wall = time.perf_counter() - t  # reading this buffer's frames + boosting them
            for n, m in zip(b.names, b.boosted):
                write_map_atomic(out_path(out, f"{n}.png", what="frame name"), m)
            if args.mp4:  # at the working size, as b.frames are held (the frames' own size up to work_max_side)
                maps = working_maps(b.boosted)
                if writer is None:
                    h, w = maps[0].shape
                    video_tmp = temp_sibling(out / "side_by_side.mp4")
                    writer = cv2.VideoWriter(str(video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, (2 * w, h))
                    opened = writer.isOpened()
                    if not opened:
                        raise OutputError(f"OpenCV cannot write {out / 'side_by_side.mp4'} (mp4v at {args.fps} fps, "
                                          f"{2 * w}×{h}); check the --fps value and the codecs of your OpenCV build")
                for f, m in zip(b.frames, maps):
                    writer.write(_side_by_side(f, m))
            proc = sum(b.report.timings.values())
            log.append({"buffer": b.index, "start": b.start, "frames": len(b.names), "names": b.names,
                        "timestamps": b.timestamps, "processing_s": round(proc, 3), "wall_s": round(wall, 3),
                        "mined": [b.names[i - b.start] for i in b.report.mined], "warnings": b.report.warnings,
                        "timings": {k: round(v, 3) for k, v in b.report.timings.items()}})
            write_json_atomic(out / "stream.json", {"buffers": log, "provenance": booster.provenance()})
            if not args.quiet:
                print(f"buffer {b.index}: frames {b.start}–{b.stop - 1}, {len(b.report.mined)} mined, boosted in "
                      f"{proc:.1f} s after its last frame ({wall:.1f} s with reading)")
            t = time.perf_counter()
    finally:
        if writer is not None:
            writer.release()  # writes the index: what was boosted so far plays
        if video_tmp is not None:
            if opened and video_tmp.stat().st_size > 0:
                publish(video_tmp, out / "side_by_side.mp4")
            else:
                video_tmp.unlink(missing_ok=True)
    print(f"{sum(x['frames'] for x in log)} frames in {len(log)} buffer(s); maps in {out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="camera index (0, 1…), video file, URL OpenCV opens, or folder of frames")
    p.add_argument("--out", required=True, help="output folder: <frame>.png per frame and stream.json")
    add_booster_arguments(p)
    p.add_argument("--warm-start", action="store_true",
                   help="fine-tune each buffer from the previous buffer's model (departs from the paper)")
    p.add_argument("--mp4", action="store_true", help="also write side_by_side.mp4 (frame | boosted map, at the working size: ≤ work_max_side)")
    p.add_argument("--fps", type=positive_float, default=25.0, help="frame rate of side_by_side.mp4 (> 0)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument("--quiet", action="store_true", help="no line per buffer")
