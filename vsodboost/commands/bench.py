"""``vsodboost bench --data ROOT --layout davis|davsod --target SPEC --out DIR``: boost every sequence of a dataset,
score target and boosted maps (as ``vsodboost eval``) and write ``DIR/report.{json,md}``, plots and side-by-side
frames. Resumable: a rerun skips what is done. See :mod:`vsodboost.bench`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .boost import (add_config_arguments, add_model_arguments, add_target_arguments,
                    add_target_cache_argument)
from ._common import (add_device_argument, add_engine_arguments, add_quiet_argument, add_seed_argument,
                      add_threads_argument, apply_threads, non_negative_int, positive_int)


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench
    from ..config import BoostConfig
    from ..presets import get_preset, merge_config
    from .boost import cached_target, load_config, parse_target_args

    apply_threads(args.threads)
    from ..bench import read_weights_table
    from ..errors import InputError, UsageError

    for option, spec in (("--mqpm", args.mqpm), ("--spatial", args.spatial)):
        if spec and spec.endswith(".json") and Path(spec).is_file():
            try:  # a broken weights map is a usage error now, not a JSONDecodeError after the first sequence
                read_weights_table(spec, option)
            except InputError as exc:
                raise UsageError(str(exc)) from exc
    preset = get_preset(args.preset)
    user = load_config(args.config, args.buffer_size)  # a missing or bad --config: a usage error (exit 2), as in boost
    config = BoostConfig.from_dict(merge_config(preset.config, user))
    protocols = [p for group in args.protocol for p in _csv(group)] if args.protocol else ["table5"]
    run_bench(
        args.data, layout=args.layout,
        target=cached_target(args.target, parse_target_args(args.target_arg), args.target_cache),
        out=args.out, split=args.split,
        sequences=_csv(args.sequences) if args.sequences else None, mqpm=args.mqpm, spatial=args.spatial or preset.spatial,
        flow=args.flow, config=config, preset=args.preset, protocols=protocols,
        periods=[int(p) for p in _csv(args.periods)], flows=_csv(args.flows), device=args.device, seed=args.seed,
        overwrite=args.overwrite, vis_frames=args.vis_frames, target_label=args.target_label, theta=args.theta,
        command="vsodboost " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if args.record_command else None,
        log=(lambda s: None) if args.quiet else print,
        engine=args.engine, address=args.address, workers=args.workers, threads=args.threads, draws=args.draws,
    )
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset root (DAVIS root or DAVSOD-layout root)")
    p.add_argument("--layout", required=True, choices=("davis", "davsod"),
                   help="dataset layout: davis (JPEGImages/480p, Annotations/480p) or davsod (<seq>/Imgs + a GT "
                        "folder per sequence)")
    p.add_argument("--split", help="DAVIS split (ImageSets/480p/<split>.txt), e.g. val; default: every sequence")
    add_target_arguments(p, required=True)
    p.add_argument("--target-label", help="name of the target in the report (default: the target's name)")
    add_target_cache_argument(p)
    p.add_argument("--out", required=True, help="output folder (reused on a rerun: done sequences are skipped)")
    add_model_arguments(p, mqpm_help="MQPM weights: 'default', a checkpoint, or a JSON file mapping sequence → "
                        "checkpoint ('*' for the rest): cross-validated weights in one report",
                        spatial_help="spatial model: a registry name, a U-Net checkpoint, or a JSON file mapping "
                                     "sequence → either (default: the preset's)")
    p.add_argument("--sequences", help="comma-separated sequence names (default: all annotated sequences)")
    add_config_arguments(p)
    p.add_argument("--protocol", action="append", metavar="TABLE",
                   help="table1, table2, table3, control, table5 (default), table6, table7, table8, fig10, fusions; "
                        "repeat or comma-separate; table5 is always included; control = Table III's control "
                        "alone over --draws random draws; fusions = every fusion rule scored from the recorded "
                        "maps, no boosting again")
    p.add_argument("--theta", default="default",
                   help="Θ of Eq. 1 whose flow maps are MS (Table III's baseline and the pseudo-GT of its MS rows): "
                        "a name from vsodboost.mqpm.list_thetas(), e.g. 'spatial' (the pretrained spatial model "
                        "on the flow image, the paper's recipe)")
    p.add_argument("--periods", default="1,2,3,4,5,10", help="Table II: values of 1/T (default 1,2,3,4,5,10)")
    p.add_argument("--draws", type=positive_int, default=5,
                   help="control: random draws (seeds --seed … --seed+N-1) the MQPM's frames are compared with")
    p.add_argument("--flows", default="dis,farneback", help="Table VI: flow backends (default dis,farneback)")
    p.add_argument("--vis-frames", type=non_negative_int, default=2,
                   help="side-by-side images per sequence (0: none, and no videos in report.html)")
    add_device_argument(p)
    add_seed_argument(p)
    add_threads_argument(p)
    add_engine_arguments(p, what="the boosting runs of every protocol (scoring and the zero-shot baselines run here)")
    p.add_argument("--overwrite", action="store_true", help="replace results made with other settings")
    p.add_argument("--no-record-command", dest="record_command", action="store_false",
                   help="do not write the command line into the report")
    add_quiet_argument(p)
