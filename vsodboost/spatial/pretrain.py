"""Saliency pretraining of the spatial model (the paper pretrains on DAVIS-TR before any per-video fine-tuning).

Without it, a U-Net with an ImageNet encoder and a random decoder fine-tuned on a few pseudo-labelled frames
produces uncalibrated maps (REFERENCE.md: maxF up on some sequences, S and MAE much worse).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np
import torch

from .._checks import check_int
from .._diff import settings_diff
from .._steps import seeded
from .._weights import load_checkpoint
from ..config import FinetuneConfig
from ..datasets import SequenceData, read_dataset, trained_on_entry
from ..errors import InputError
from ..io import atomic_write
from ..models import saliency_unet
from ..models.checkpoint import save_unet_checkpoint
from .._decode import read_image
from .finetune import finetune, resolve_autocast

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
    work_dir: str | Path | None = None,
    ckpt_every: int = 50,
    autocast: str = "off",
    restart: bool = False,
) -> torch.nn.Module:
    """Saliency-train a spatial model on the GT of ``data`` (Sec. V-C: the paper pretrains its spatial model on
    DAVIS-TR): ``init="lite0"`` the Lite0 U-Net + MSDA from its ImageNet encoder (the shipped ``lite0``),
    ``init="u2netp"`` the shipped DUTS-trained U²-Net-p trained further (a video-domain prior).

    Args:
        data: ``(root, layout)`` pairs, e.g. ``[("DAVIS2016-train", "davis"), ("ECSSD", "images")]``.
        out: checkpoint path (written atomically; Lite0 fp16, U²-Net fp32; the settings and ``trained_on`` in
            ``meta``), loadable as ``spatial=<path>``.
        exclude: sequence names left out (cross-validation: a sequence is never boosted by a model that saw it).
        autocast: ``"off"`` (default): float32, contiguous tensors — the precision every shipped checkpoint was
            trained in, so their cards' commands give their weights; ``"auto"``/``"bf16"``: bfloat16 autocast with
            channels-last tensors, the Booster's CPU speed levers (faster where bf16 is native, other weights).
        work_dir: where the training state is saved every ``ckpt_every`` iterations (default ``<out>.train``):
            calling again with the same recipe resumes there and ends with the same weights as an uninterrupted
            run; a state from another recipe is refused (:class:`~vsodboost.errors.InputError`; delete the folder,
            or ``restart=True``, to start over). The folder is removed once ``out`` is written.
        restart: discard a saved training state first (``vsodboost train spatial --restart``).
    """
    if init not in ("lite0", "u2netp"):
        raise InputError(f"unknown init {init!r}: 'lite0' (ImageNet Lite0 U-Net) or 'u2netp' (DUTS U²-Net-p)")
    ckpt_every = check_int("pretrain_spatial: ckpt_every", ckpt_every, lo=1)
    excluded = set(exclude)
    named = [(Path(root).name, s) for root, layout in data for s in read_dataset(root, layout)
             if s.name not in excluded]
    seqs = [s for _, s in named]
    work = Path(work_dir) if work_dir is not None else Path(str(out) + ".train")
    recipe = {"data": [f"{Path(r).name} ({l})" for r, l in data],
              "trained_on": [trained_on_entry(ds, s.name, len(s.annotated), s.fingerprint()) for ds, s in named],
              "iterations": iterations, "batch_size": batch_size, "lr": lr, "input_size": input_size, "seed": seed,
              "init": init, "autocast": autocast}
    if restart and (work / "state.pt").is_file():
        _log.warning("pretrain spatial: restart: removing %s", work / "state.pt")
        (work / "state.pt").unlink()
    state = _resume_state(work / "state.pt", recipe)
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
                             scale_jitter=0.25, loss="bce+iou", pseudo_gt="soft", train_layers="all", grad_clip=0.0,
                             autocast=autocast, channels_last=autocast != "off")
        t0 = time.time() - (float(state.get("seconds", 0.0)) if state is not None else 0.0)  # over every attempt

        def report(it: int, loss: float) -> None:
            if it % log_every == 0 or it == iterations:
                _log.warning("pretrain spatial: iteration %d/%d loss %.4f (%.0f s)", it, iterations, loss,
                             time.time() - t0)

        def save_state(st: dict[str, Any]) -> None:  # atomic: an interruption never leaves half a state
            work.mkdir(parents=True, exist_ok=True)
            atomic_write(work / "state.pt", lambda f: torch.save(
                {"recipe": recipe, "seconds": time.time() - t0, **st}, f))

        if state is not None:
            _log.warning("pretrain spatial: resuming %s at iteration %d/%d", work / "state.pt", state["step"],
                         iterations)
        finetune(model, x, y, cfg, seed=seed, copy_model=False, callback=report, resume=state,
                 checkpoint=save_state, checkpoint_every=ckpt_every)
    meta = {
        "what": ("U²-Net-p (DUTS-TR, its authors' weights) trained further" if init == "u2netp" else
                 "spatial model (Lite0 U-Net + MSDA), saliency-pretrained"),
        "data": recipe["data"],
        "sequences": [s.name for s in seqs],
        "trained_on": recipe["trained_on"],
        "excluded": sorted(excluded),
        "frames": int(x.shape[0]),
        "iterations": iterations, "batch_size": batch_size, "lr": lr, "input_size": input_size, "seed": seed,
        "loss": cfg.loss, "augmentation": "hflip + random crop (≥75% per side)",
        "autocast": resolve_autocast(cfg, next(model.parameters()).device).autocast,
        "channels_last": cfg.channels_last,
        "seconds": round(time.time() - t0, 1),
        "torch": str(torch.__version__),
    }
    if init == "u2netp":
        from ..nets.u2net import save_u2net

        meta["init"] = {k: prior.get(k) for k in ("file", "sha256", "source", "trained_on")}
        save_u2net(model.eval(), out, meta=meta)  # type: ignore[arg-type]
    else:
        save_unet_checkpoint(model, out, meta=meta)  # type: ignore[arg-type]
    with contextlib.suppress(FileNotFoundError):
        (work / "state.pt").unlink()
    with contextlib.suppress(OSError):  # gone already, or holding files the user put there: it stays
        work.rmdir()
    return model


def _resume_state(path: Path, recipe: dict[str, Any]) -> dict[str, Any] | None:
    """The saved training state at ``path`` if it was written by ``recipe``; None when there is none."""
    if not path.is_file():
        return None
    state = load_checkpoint(path)
    old = state.get("recipe") if isinstance(state, dict) else None
    if diff := settings_diff(old if isinstance(old, dict) else {}, recipe):
        raise InputError(f"{path} was saved by another training recipe ({'; '.join(diff)}; saved → now); delete "
                         f"{path.parent} (or pass --restart) to start over, or rerun the recipe it was saved by")
    return state
