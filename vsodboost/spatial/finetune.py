"""Per-buffer fine-tuning (Sec. V-C) and whole-buffer prediction of the spatial model."""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .._weights import load_state_dict_strict
from ..errors import InputError

if TYPE_CHECKING:
    from ..config import FinetuneConfig

__all__ = ["finetune", "predict_maps", "otsu_threshold", "autocast", "check_autocast",
           "resolve_autocast", "bf16_native", "CPU_BF16_MIN_INPUT"]

# The smallest ``input_size`` that bfloat16 fine-tuning accepts on the CPU. At 64 the Lite0 U-Net's deepest map is 2x2,
# and oneDNN's bf16 weight gradient of the 7x7 spatial-attention conv (128 -> 1 channels) on it reads uninitialised
# memory: gradients change from run to run, NaN when the allocator hands back NaN bytes (torch 2.14.1, AVX512-BF16).
# From 96 up, Lite0 and U²-Net-p gradients are bit-identical across repeats over a garbage-filled allocator
# (benchmarks/check_bf16_grads.py).
CPU_BF16_MIN_INPUT = 96


def otsu_threshold(m: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """Otsu's threshold of a map in [0,1] (per map of a (B,H,W) batch), from a ``bins``-bin histogram."""
    b = m.shape[0]
    idx = (m.reshape(b, -1).clamp(0, 1) * (bins - 1)).round().long()
    hist = torch.zeros(b, bins, dtype=torch.float64, device=m.device).scatter_add_(
        1, idx, torch.ones_like(idx, dtype=torch.float64))
    p = hist / hist.sum(1, keepdim=True)
    levels = torch.arange(bins, dtype=torch.float64, device=m.device) / (bins - 1)
    w0 = p.cumsum(1)
    mu = (p * levels).cumsum(1)
    mu_t = mu[:, -1:]
    between = (mu_t * w0 - mu) ** 2 / (w0 * (1 - w0)).clamp_min(1e-12)
    return levels[between.argmax(1)].to(m.dtype)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def _batch(frames: torch.Tensor, targets: torch.Tensor, idx: torch.Tensor, cfg: FinetuneConfig,
           gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = frames[idx].float() / 255.0
    y = targets[idx].unsqueeze(1)
    if cfg.scale_jitter > 0:
        h, w = x.shape[-2:]
        xs, ys = [], []
        for i in range(x.shape[0]):
            s = 1.0 - cfg.scale_jitter * torch.rand(1, generator=gen).item()
            ch, cw = max(8, int(h * s)), max(8, int(w * s))
            t = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
            l = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
            xs.append(_resize(x[i: i + 1, :, t: t + ch, l: l + cw], cfg.input_size))
            ys.append(_resize(y[i: i + 1, :, t: t + ch, l: l + cw], cfg.input_size))
        x, y = torch.cat(xs), torch.cat(ys)
    else:
        x, y = _resize(x, cfg.input_size), _resize(y, cfg.input_size)
    if cfg.hflip:
        flip = torch.rand(x.shape[0], generator=gen) < 0.5
        x[flip] = x[flip].flip(-1)
        y[flip] = y[flip].flip(-1)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def _loss(logits: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    loss = F.binary_cross_entropy_with_logits(logits, y)
    if kind == "bce+iou":
        p = torch.sigmoid(logits)
        inter = (p * y).sum((1, 2, 3))
        union = (p + y - p * y).sum((1, 2, 3))
        loss = loss + (1 - (inter + 1) / (union + 1)).mean()
    return loss


def finetune(model: nn.Module, frames: torch.Tensor, targets: torch.Tensor, cfg: FinetuneConfig, *,
             seed: int = 0, copy_model: bool = True,
             callback: Callable[[int, float], None] | None = None,
             resume: Mapping[str, Any] | None = None,
             checkpoint: Callable[[dict[str, Any]], None] | None = None,
             checkpoint_every: int = 0) -> tuple[nn.Module, list[float]]:
    """Fine-tune a **copy** of ``model`` on ``frames`` (uint8 (K,3,H,W)) with pseudo-GT ``targets`` (float (K,H,W)).

    The model passed in is never modified: every buffer starts from the same pretrained weights (the authors' code
    carries weights from one video to the next, a bug we do not copy). Returns the tuned copy and the losses.
    ``copy_model=False`` trains ``model`` in place (saliency pretraining); ``callback(iteration, loss)`` reports
    progress.

    Long runs (saliency pretraining) can be interrupted: every ``checkpoint_every`` iterations ``checkpoint(state)``
    receives the training state (``step``, ``model``, ``optimizer``, ``generator``, ``losses``), and ``resume=state``
    continues from it — the same batches, the same updates, so the result equals an uninterrupted run's.
    """
    if frames.ndim != 4 or frames.shape[1] != 3 or frames.dtype != torch.uint8:
        raise InputError(f"finetune: frames must be uint8 (K,3,H,W), got {frames.dtype} {tuple(frames.shape)}")
    if targets.shape != (frames.shape[0], *frames.shape[-2:]):
        raise InputError(f"finetune: targets {tuple(targets.shape)} do not match frames {tuple(frames.shape)}")
    if frames.shape[0] == 0:
        raise InputError("finetune: no training frames")
    tuned = copy.deepcopy(model) if copy_model else model
    device = next(tuned.parameters()).device
    cfg = resolve_autocast(cfg, device)
    if cfg.channels_last:
        tuned = tuned.to(memory_format=torch.channels_last)
    frames, targets = frames.to(device), targets.to(device=device, dtype=torch.float32)
    if cfg.pseudo_gt == "otsu":
        thr = otsu_threshold(targets).view(-1, 1, 1)
        targets = (targets > thr).float()
    gen = torch.Generator().manual_seed(seed)
    for p in tuned.parameters():
        p.requires_grad_(True)
    if cfg.train_layers == "decoder":
        if hasattr(tuned, "decoder_parameters"):  # e.g. U²-Net: decoder stages, side convs, fusion conv
            keep = {id(p) for p in tuned.decoder_parameters}
            for p in tuned.parameters():
                p.requires_grad_(id(p) in keep)
        elif hasattr(tuned, "encoder"):
            for p in tuned.encoder.parameters():
                p.requires_grad_(False)
        else:
            raise InputError(f"finetune.train_layers='decoder' needs a model with an `encoder` or "
                             f"`decoder_parameters`; {type(tuned).__name__} has neither (use train_layers='all')")
    params = [p for p in tuned.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    tuned.train()
    if cfg.train_layers == "decoder" and hasattr(tuned, "encoder"):
        tuned.encoder.eval()  # type: ignore[union-attr]  # frozen BN statistics too
    losses: list[float] = []
    if resume is not None:
        _restore(tuned, opt, gen, resume, cfg.iterations)
        losses = [float(v) for v in resume["losses"]]
    k = frames.shape[0]
    for _ in range(len(losses), cfg.iterations):
        idx = torch.randint(0, k, (min(cfg.batch_size, max(k, 2)),), generator=gen)
        x, y = _batch(frames, targets, idx.to(frames.device), cfg, gen)
        with autocast(device, cfg.autocast):
            out = tuned(x)
            logits = out[0] if isinstance(out, tuple) else out
            loss = _loss(logits.float(), y, cfg.loss)
            if cfg.deep_supervision and isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], (list, tuple)):
                # U²-Net's deep supervision (Qin et al. 2020, Eq. 1): the fused map and every side map, equal weights
                loss = loss + sum(_loss(side.float(), y, cfg.loss) for side in out[1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_value_(params, cfg.grad_clip)
        opt.step()
        losses.append(float(loss.detach()))
        if callback is not None:
            callback(len(losses), losses[-1])
        if not math.isfinite(losses[-1]):
            hint = " or set finetune.autocast='off'" if cfg.autocast != "off" else ""
            raise InputError(f"fine-tuning diverged (non-finite loss); lower finetune.lr{hint}")
        if checkpoint is not None and checkpoint_every > 0 and len(losses) % checkpoint_every == 0 \
                and len(losses) < cfg.iterations:
            checkpoint({"step": len(losses), "model": tuned.state_dict(), "optimizer": opt.state_dict(),
                        "generator": gen.get_state(), "losses": list(losses)})
    tuned.eval()
    return tuned, losses


def _restore(model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, state: Mapping[str, Any],
             iterations: int) -> None:
    """Load a :func:`finetune` checkpoint state into the run being set up (strictly, by name)."""
    missing = {"step", "model", "optimizer", "generator", "losses"} - set(state)
    if missing:
        raise InputError(f"finetune: resume state lacks {sorted(missing)}; pass a state given to `checkpoint`")
    if not 0 < int(state["step"]) <= iterations or len(state["losses"]) != int(state["step"]):
        raise InputError(f"finetune: resume state at step {state['step']} ({len(state['losses'])} losses) does not "
                         f"fit a run of {iterations} iterations")
    load_state_dict_strict(model, state["model"], source="resume state")
    opt.load_state_dict(state["optimizer"])
    gen.set_state(state["generator"])


def bf16_native(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: CUDA with bf16 support, or a CPU with AVX512-BF16 or AMX (the
    probes are torch's own; a torch without them answers False). Elsewhere bf16 autocast is emulated and slower."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(callable(probe) and bool(probe()) for probe in probes)
    return False


def resolve_autocast(cfg: FinetuneConfig, device: torch.device | str) -> FinetuneConfig:
    """``cfg`` with ``autocast="auto"`` made ``"bf16"`` or ``"off"`` for ``device``: bf16 where it is native
    (:func:`bf16_native`) and, on the CPU, ``input_size`` ≥ :data:`CPU_BF16_MIN_INPUT`; float32 otherwise. An explicit
    ``"bf16"`` is checked (:func:`check_autocast`), never changed. Resolved values are what a run records."""
    device = torch.device(device)
    if cfg.autocast == "auto":
        small_on_cpu = device.type == "cpu" and cfg.input_size < CPU_BF16_MIN_INPUT
        return replace(cfg, autocast="bf16" if bf16_native(device) and not small_on_cpu else "off")
    check_autocast(cfg, device)
    return cfg


def check_autocast(cfg: FinetuneConfig, device: torch.device) -> None:
    """Refuse bf16 fine-tuning on the CPU below :data:`CPU_BF16_MIN_INPUT` (:class:`InputError`); the Booster calls
    this when it is built, :func:`finetune` before training. ``"auto"`` never raises (:func:`resolve_autocast`)."""
    if cfg.autocast == "bf16" and torch.device(device).type == "cpu" and cfg.input_size < CPU_BF16_MIN_INPUT:
        raise InputError(
            f"finetune.autocast='bf16' on the CPU needs finetune.input_size >= {CPU_BF16_MIN_INPUT}, got "
            f"{cfg.input_size}: at 64 the CPU's bfloat16 weight gradient of the Lite0 U-Net's 7x7 attention conv on its "
            "2x2 deepest map reads uninitialised memory (wrong or NaN gradients, measured with torch 2.14.1); raise "
            "input_size or use autocast='off' or 'auto'"
        )


def autocast(device: torch.device, mode: str) -> Any:
    """``FinetuneConfig.autocast``: ``"bf16"`` → ``torch.autocast`` to bfloat16 on ``device``; ``"off"`` → float32;
    ``"auto"`` → bf16 where :func:`bf16_native` (a size check is :func:`resolve_autocast`'s, for training)."""
    if mode == "bf16" or (mode == "auto" and bf16_native(device)):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_maps(model: nn.Module, frames: torch.Tensor, *, input_size: int, batch: int = 8,
                 autocast_mode: str = "off", channels_last: bool = False,
                 callback: Callable[[int], None] | None = None) -> torch.Tensor:
    """Saliency maps of uint8 frames (N,3,H,W) → float (N,H,W) in [0,1] at frame size (sigmoid, bilinear back), in
    batches of ``batch``; ``autocast_mode="bf16"`` runs the model under bfloat16 autocast (maps stay float32);
    ``channels_last`` feeds it channels-last inputs (the model is not converted: :func:`finetune` returns it so);
    ``callback(frames_done)`` after each batch."""
    model.eval()
    device = next(model.parameters()).device
    h, w = frames.shape[-2:]
    out = []
    for s in range(0, frames.shape[0], batch):
        x = _resize(frames[s: s + batch].to(device).float() / 255.0, input_size)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, autocast_mode):
            y = model(x)
        logits = (y[0] if isinstance(y, tuple) else y).float()
        out.append(F.interpolate(torch.sigmoid(logits), size=(h, w), mode="bilinear", align_corners=False)[:, 0])
        if callback is not None:
            callback(min(s + batch, frames.shape[0]))
    return torch.cat(out).float().cpu()


def describe(cfg: FinetuneConfig) -> dict[str, Any]:
    return asdict(cfg)
