"""Saliency pretraining of the spatial model (the paper pretrains on DAVIS-TR before any per-video fine-tuning).

Without it, a U-Net with an ImageNet encoder and a random decoder fine-tuned on a few pseudo-labelled frames
produces uncalibrated maps (REFERENCE.md: maxF up on some sequences, S and MAE much worse).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import torch

from .._steps import seeded
from ..config import FinetuneConfig
from ..datasets import SequenceData, read_dataset, trained_on_entry
from ..errors import InputError
from ..models import saliency_unet
from ..models.checkpoint import save_unet_checkpoint
from .._decode import read_image
from .finetune import finetune

__all__ = ["load_saliency_pairs", "pretrain_spatial"]

_log = logging.getLogger("vsodboost.spatial")


def load_saliency_pairs(sequences: Iterable[SequenceData], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All annotated frames of ``sequences`` resized to size² → uint8 (N,3,s,s) frames, float (N,s,s) masks."""
    xs, ys = [], []
    for seq in sequences:
        frames = {f.stem: f for f in seq.frames}
        for stem in seq.annotated:
            img = cv2.resize(read_image(frames[stem]), (size, size), interpolation=cv2.INTER_AREA)
            gt = cv2.imread(str(seq.gt[stem]), cv2.IMREAD_GRAYSCALE)
            if gt is None:
                raise InputError(f"cannot read mask {seq.gt[stem]}")
            gt = cv2.resize((gt > 128).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
            xs.append(img)
            ys.append(gt)
    if not xs:
        raise InputError("no annotated frames in the given sequences; saliency pretraining needs ground truth")
    return torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(np.stack(ys))


def pretrain_spatial(
    data: Sequence[tuple[str | Path, str]],
    out: str | Path,
    *,
    iterations: int = 400,
    batch_size: int = 8,
    lr: float = 3e-4,
    input_size: int = 224,
    exclude: Iterable[str] = (),
    seed: int = 0,
    log_every: int = 10,
    init: str = "lite0",
) -> torch.nn.Module:
    """Saliency-train a spatial model on the GT of ``data`` (Sec. V-C: the paper pretrains its spatial model on
    DAVIS-TR): ``init="lite0"`` the Lite0 U-Net + MSDA from its ImageNet encoder (the shipped ``lite0``),
    ``init="u2netp"`` the shipped DUTS-trained U²-Net-p trained further (a video-domain prior).

    Args:
        data: ``(root, layout)`` pairs, e.g. ``[("DAVIS2016-train", "davis"), ("ECSSD", "images")]``.
        out: checkpoint path (written atomically; Lite0 fp16, U²-Net fp32; the settings and ``trained_on`` in
            ``meta``), loadable as ``spatial=<path>``.
        exclude: sequence names left out (cross-validation: a sequence is never boosted by a model that saw it).
    """
    if init not in ("lite0", "u2netp"):
        raise InputError(f"unknown init {init!r}: 'lite0' (ImageNet Lite0 U-Net) or 'u2netp' (DUTS U²-Net-p)")
    excluded = set(exclude)
    named = [(Path(root).name, s) for root, layout in data for s in read_dataset(root, layout)
             if s.name not in excluded]
    seqs = [s for _, s in named]
    x, y = load_saliency_pairs(seqs, input_size)
    with seeded(seed, torch.device("cpu")):  # the ImageNet-init head and training seeded; the caller's RNG restored
        if init == "u2netp":
            from ._plugin import u2netp_spatial

            model: torch.nn.Module = u2netp_spatial()
            prior = dict(getattr(model, "provenance", {}))
        else:
            model = saliency_unet("tf_efficientnet_lite0", pretrained=True, cls_head=False,
                                  input_size=(input_size, input_size))
        cfg = FinetuneConfig(iterations=iterations, batch_size=batch_size, lr=lr, input_size=input_size,
                             scale_jitter=0.25, loss="bce+iou", pseudo_gt="soft", train_layers="all", grad_clip=0.0)
        t0 = time.time()

        def report(it: int, loss: float) -> None:
            if it % log_every == 0 or it == iterations:
                _log.warning("pretrain spatial: iteration %d/%d loss %.4f (%.0f s)", it, iterations, loss,
                             time.time() - t0)

        finetune(model, x, y, cfg, seed=seed, copy_model=False, callback=report)
    meta = {
        "what": ("U²-Net-p (DUTS-TR, its authors' weights) trained further" if init == "u2netp" else
                 "spatial model (Lite0 U-Net + MSDA), saliency-pretrained"),
        "data": [f"{Path(r).name} ({l})" for r, l in data],
        "sequences": [s.name for s in seqs],
        "trained_on": [trained_on_entry(ds, s.name, len(s.annotated), s.fingerprint()) for ds, s in named],
        "excluded": sorted(excluded),
        "frames": int(x.shape[0]),
        "iterations": iterations, "batch_size": batch_size, "lr": lr, "input_size": input_size, "seed": seed,
        "loss": cfg.loss, "augmentation": "hflip + random crop (≥75% per side)",
        "seconds": round(time.time() - t0, 1),
        "torch": str(torch.__version__),
    }
    if init == "u2netp":
        from ..nets.u2net import save_u2net

        meta["init"] = {k: prior.get(k) for k in ("file", "sha256", "source", "trained_on")}
        save_u2net(model.eval(), out, meta=meta)  # type: ignore[arg-type]
    else:
        save_unet_checkpoint(model, out, meta=meta)  # type: ignore[arg-type]
    return model
