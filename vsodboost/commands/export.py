"""``vsodboost export FRAMES --target T --buffer 0 --out DIR``: adapt the spatial model on one buffer,
export it.

The exported model is the buffer's fine-tuned spatial model alone (no target, no fusion: the ``replace``
output)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .._steps import FrameBar
from ..errors import InputError
from ._common import add_quiet_argument, lock_out
from .boost import add_booster_arguments
from .stream import make_booster


def run(args: argparse.Namespace) -> int:
    from ..export import ONNX_EXTRA, WHAT_IS_EXPORTED, available_formats, check_formats, export_spatial
    from ..io import LOCK_FILE, check_output_dir, make_subdir, out_path, write_map_atomic

    # every requirement is checked before any compute: fine-tuning takes minutes
    if args.formats is None:  # the default: TorchScript always, ONNX when the [onnx] extra is installed
        formats, skipped = tuple(available_formats()), "onnx" not in available_formats()
    else:
        formats, skipped = check_formats(args.formats), False  # asked for ONNX without onnx: refused now
    check_output_dir(args.out)
    lock_out(args, args.out)  # a second run on this --out is refused now, before any model loads
    if args.maps:
        make_subdir(args.out, "maps")  # a symlink planted as <out>/maps is refused before any compute
    booster = make_booster(args)
    video = booster.load(args.frames, name=args.name, check_coverage=False)  # as run() does, before any compute
    spans = list(video.buffers(booster.config.buffer_size))
    if not 0 <= args.buffer < len(spans):
        raise InputError(f"--buffer {args.buffer}: {video.name!r} has {len(spans)} buffer(s) of "
                         f"{booster.config.buffer_size} frames (0…{len(spans) - 1})")
    start, stop = spans[args.buffer]
    t = time.perf_counter()
    # only this buffer is boosted, with the seed run() gives it, so the model is the one run(keep_models=True) keeps
    bar = FrameBar(f"{video.name} buffer {args.buffer}", stop - start, enabled=not args.quiet)
    try:
        res = booster.run_buffer(video, start, stop, seed=booster.buffer_seed(args.buffer), on_stage=bar.stage)
    finally:
        bar.close()
    model = res.model
    if model is None:
        raise InputError(f"buffer {args.buffer} (frames {start}:{stop}) mined no frame, so nothing was fine-tuned; "
                         f"warnings: {res.report.warnings}. Choose another --buffer or check the target's maps")
    out = Path(args.out)
    meta = {"sequence": video.name, "buffer": args.buffer, "frames": [start, stop],
            "mined": [video.names[i] for i in res.report.mined], "exported_model": WHAT_IS_EXPORTED,
            "provenance": booster.provenance()}
    size = booster.config.finetune.predict_args()["input_size"]  # where the Booster predicts (predict_size)
    export_spatial(model, out, input_size=size, formats=formats, meta=meta)
    if args.maps:
        maps = make_subdir(out, "maps")  # never through a symlink planted as <out>/maps
        for n in video.names[start:stop]:
            out_path(maps, f"{n}.png", what="frame name")  # all names checked before the first write
        for n, m in zip(video.names[start:stop], res.boosted):
            write_map_atomic(out_path(maps, f"{n}.png", what="frame name"), m)
    wrote = sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE)
    print(f"adapted on frames {start}–{stop - 1} of {video.name} ({len(res.report.mined)} mined, "
          f"{time.perf_counter() - t:.1f} s); wrote {', '.join(wrote)} in {out}")
    print(f"exported: {WHAT_IS_EXPORTED}")
    if skipped:
        print(f"ONNX not written: the onnx package is not installed ({ONNX_EXTRA}); "
              "spatial.pt is TorchScript")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("frames", help="folder of frames or video file")
    p.add_argument("--out", required=True, help="folder for spatial.onnx, spatial.pt and preprocessing.json")
    p.add_argument("--buffer", type=int, default=0, help="which buffer to adapt on (default 0, the first)")
    p.add_argument("--formats", nargs="+", default=None, choices=["onnx", "torchscript"],
                   help="formats to write: spatial.onnx, spatial.pt (TorchScript); default: TorchScript, "
                        'and ONNX when the onnx package is installed (pip install "vsodboost[onnx]")')
    p.add_argument("--maps", action="store_true", help="also write the buffer's boosted maps to <out>/maps")
    add_booster_arguments(p)
    add_quiet_argument(p)
