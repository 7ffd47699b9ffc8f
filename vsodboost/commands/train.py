"""``vsodboost train``: train the networks of the method. ``train mqpm`` trains the motion quality prediction
module; each network is a sub-sub-command registered in :data:`TRAINERS` (``name → (help, description,
add_arguments, run)``). The options' defaults are the library's (``TrainConfig``, ``pretrain_spatial``), read here.

Example::

    vsodboost -v train mqpm --data ../shared/data/DAVIS2016 --data ../shared/data/ViSal --flow dis --out mqpm.pt

Interrupted runs resume when the same command is run again (``--restart`` starts over).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import shutil
from typing import Any, Callable

from ..errors import InputError
from ._common import apply_threads, non_negative_int, positive_int

__all__ = ["add_arguments", "run", "TRAINERS", "spatial_defaults"]


def _run_mqpm(args: argparse.Namespace) -> int:
    from ..mqpm.train import TrainConfig, train_mqpm

    cfg = TrainConfig(
        data=[str(d) for d in args.data], out=str(args.out), flow=args.flow, theta=args.theta,
        encoder=args.encoder, input_size=args.input_size, batch_size=args.batch_size, iterations=args.iterations,
        lr=args.lr, encoder_lr=args.encoder_lr, freeze_stages=args.freeze_stages, hflip=not args.no_flip,
        val_sequences=list(args.val or []), seed=args.seed, log_every=args.log_every, ckpt_every=args.ckpt_every,
        device=args.device, work_dir=args.work_dir, cache_dir=args.cache_dir, num_threads=args.threads,
        cache_max_side=args.cache_max_side, reduction=args.reduction, head_iterations=args.head_iterations,
    )
    work = cfg.work_path()
    if args.restart and work.exists():
        logging.getLogger("vsodboost.train").warning("--restart: removing %s", work)
        shutil.rmtree(work)
    out = train_mqpm(cfg)
    print(f"wrote {out}")
    return 0


def _add_mqpm(p: argparse.ArgumentParser) -> None:
    from ..mqpm.theta import DEFAULT_THETA
    from ..mqpm.train import TrainConfig

    d = TrainConfig()
    p.add_argument("--data", action="append", required=True, metavar="ROOT",
                   help="dataset root in DAVIS or DAVSOD layout (repeatable)")
    p.add_argument("--flow", default=d.flow, help=f"flow backend (see `vsodboost plugins`; default {d.flow})")
    p.add_argument("--out", required=True, help="the exported inference checkpoint (fp16)")
    p.add_argument("--theta", default=d.theta,
                   help=f"Θ of Eq. 1: a name from vsodboost.mqpm.list_thetas() (default: {d.theta!r}, which is "
                        f"{DEFAULT_THETA})")
    p.add_argument("--encoder", default=d.encoder, help=f"encoder (default {d.encoder}; or vgg16)")
    p.add_argument("--input-size", type=int, default=d.input_size, help="square training resolution, multiple of 32")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="flow images per step")
    p.add_argument("--iterations", type=int, default=d.iterations, help="optimiser steps")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate of the new layers (cosine decay)")
    p.add_argument("--encoder-lr", type=float, default=d.encoder_lr,
                   help="Adam learning rate of the pretrained encoder (cosine decay)")
    p.add_argument("--freeze-stages", type=int, default=d.freeze_stages,
                   help="encoder stem + first N stages keep ImageNet weights")
    p.add_argument("--no-flip", action="store_true", help="disable random horizontal flips")
    p.add_argument("--reduction", choices=("mean", "sum"), default=d.reduction,
                   help="Eqs. 6–7: sum them as the paper writes them (the shipped map network, mqpm_lite0_dis.pt) or "
                        "average each loss term (the shipped HQ network, mqpm_lite0_dis_hq.pt)")
    p.add_argument("--head-iterations", type=non_negative_int, default=d.head_iterations,
                   help="then train the classification head alone (Eq. 7 averaged, motion map frozen) for N more "
                        f"steps (default {d.head_iterations}; 0: no second stage)")
    p.add_argument("--val", action="append", metavar="SEQ",
                   help="hold out this sequence for validation; best.pt then follows its loss (repeatable)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of sampling and initialisation")
    p.add_argument("--log-every", type=int, default=d.log_every, help="log the loss every N steps")
    p.add_argument("--ckpt-every", type=int, default=d.ckpt_every,
                   help="write a resumable checkpoint every N steps")
    p.add_argument("--device", default=d.device, help="auto (GPU when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--work-dir", default=None, help="checkpoints and logs (default: OUT.train/)")
    p.add_argument("--cache-dir", default=None, help="flow cache (default $VSODBOOST_CACHE or /tmp/vsodboost-cache)")
    p.add_argument("--cache-max-side", type=int, default=d.cache_max_side, help="cached flow resolution")
    p.add_argument("--threads", type=non_negative_int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--restart", action="store_true", help="discard last.pt/best.pt and start over")


def _run_spatial(args: argparse.Namespace) -> int:
    from ..datasets import detect_layout
    from ..spatial.pretrain import pretrain_spatial

    apply_threads(args.threads)
    data = [(str(d), detect_layout(d)) for d in args.data]
    pretrain_spatial(data, args.out, iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
                     input_size=args.input_size, exclude=args.exclude or [], seed=args.seed, init=args.init,
                     work_dir=args.work_dir, ckpt_every=args.ckpt_every, autocast=args.autocast,
                     restart=args.restart)
    print(f"wrote {args.out}")
    return 0


def spatial_defaults() -> dict[str, Any]:
    """The keyword defaults of :func:`~vsodboost.spatial.pretrain.pretrain_spatial` (those that reproduce the
    shipped ``spatial_lite0.pt``): the one source of ``vsodboost train spatial``'s defaults."""
    from ..spatial.pretrain import pretrain_spatial

    return {k: v.default for k, v in inspect.signature(pretrain_spatial).parameters.items()
            if v.default is not inspect.Parameter.empty}


def _add_spatial(p: argparse.ArgumentParser) -> None:
    d = spatial_defaults()
    p.add_argument("--data", action="append", required=True, metavar="ROOT",
                   help="dataset root in DAVIS, DAVSOD or image (ECSSD: images/ + ground_truth_mask/) layout "
                        "(repeatable)")
    p.add_argument("--out", required=True, help="checkpoint to write (atomically)")
    p.add_argument("--iterations", type=int, default=d["iterations"], help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="frames per step")
    p.add_argument("--lr", type=float, default=d["lr"], help="Adam learning rate")
    p.add_argument("--input-size", type=int, default=d["input_size"],
                   help="square training resolution, multiple of 32")
    p.add_argument("--exclude", action="append", metavar="SEQ", help="leave this sequence out (repeatable)")
    p.add_argument("--seed", type=int, default=d["seed"], help="seed of sampling and initialisation")
    p.add_argument("--init", choices=("lite0", "u2netp"), default=d["init"],
                   help="lite0: the Lite0 U-Net from its ImageNet encoder; u2netp: the shipped DUTS U²-Net-p "
                        "trained further (a video-domain prior, Sec. V-C)")
    p.add_argument("--threads", type=non_negative_int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--work-dir", default=None,
                   help="where the training state is saved to resume an interrupted run (default: OUT.train; "
                        "removed when OUT is written)")
    p.add_argument("--ckpt-every", type=positive_int, default=d["ckpt_every"],
                   help="save the training state every N iterations")
    p.add_argument("--restart", action="store_true", help="discard a saved training state and start over")
    p.add_argument("--autocast", choices=("off", "auto", "bf16"), default=d["autocast"],
                   help="off: float32, the precision the shipped checkpoints were trained in (their cards' commands "
                        "give their weights); auto/bf16: bfloat16 autocast + channels-last where native, faster, "
                        "other weights")


#: Networks trainable with ``vsodboost train <name>``: name → (one-line help, description, add_arguments, run).
TRAINERS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "mqpm": ("train the motion quality prediction module (MQPM) on flow images",
             "Flows of every annotated frame are computed once and cached; MQS (Eq. 1) and labels (Eqs. 2-4) are "
             "computed over the training set; the network is trained with Adam on Eq. 5 with random horizontal "
             "flips.", _add_mqpm, _run_mqpm),
    "spatial": ("saliency-pretrain the spatial model (Sec. V-C) on RGB frames + GT",
                "Trains the Lite0 U-Net + MSDA (ImageNet encoder; --init u2netp: the shipped DUTS U²-Net-p) on "
                "every annotated frame of the given datasets (video sets and image saliency sets such as ECSSD or "
                "DUTS) with BCE + IoU loss, flips and crops; writes a checkpoint (Lite0 fp16, U²-Net-p fp32) "
                "loadable as spatial=<path>, like the shipped `lite0` and `u2netp_davis`. Rerunning an interrupted "
                "command resumes it.",
                _add_spatial, _run_spatial),
}


def run(args: argparse.Namespace) -> int:
    """``vsodboost train`` without a network."""
    raise InputError(f"`vsodboost train` needs a network: one of {sorted(TRAINERS)}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    inner = p.add_subparsers(dest="network", metavar="NETWORK", help="the network to train")
    for name, (help_line, description, add, run_network) in TRAINERS.items():
        q = inner.add_parser(name, help=help_line, description=description)
        add(q)
        q.set_defaults(func=run_network)
