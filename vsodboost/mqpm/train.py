"""Training of the MQPM (Sec. III-B, Fig. 6, Eqs. 1–7) on DAVIS- and DAVSOD-layout datasets.

Steps: flows of every annotated frame (cached on disk, :mod:`vsodboost.mqpm.data`) → colour coding → MQS with Θ
(Eq. 1) → labels with the adaptive λ over the whole training set (Eqs. 2–4) → Adam on Eq. 5 = BCE of the motion
saliency map (Eq. 6) + logistic loss of the HQ logit (Eq. 7), random horizontal flips (of the flow field: the
x-component changes sign, so the colours stay physically right); then, with ``head_iterations``, the classification
head alone on Eq. 7 (the motion map frozen).

The run lives in a work directory: ``last.pt`` (model, optimizer, step, config) every ``ckpt_every`` steps,
``best.pt`` when the monitored loss improves, ``head_last.pt`` in the head stage, ``log.jsonl``, ``labels.json``.
Rerunning the same command resumes from ``last.pt`` (or ``head_last.pt``); the result is exported to ``out`` (fp16
inference checkpoint, :func:`~vsodboost.mqpm.load_mqpm`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._device import resolve_device
from .._diff import settings_diff
from .._steps import seeded, torch_threads
from .._weights import load_checkpoint, load_state_dict_strict
from ..datasets import trained_on_entry
from ..errors import InputError
from ..io import atomic_write, atomic_write_bytes
from ..models import SaliencyUNet, UNetConfig
from .data import FlowSet, build_flow_sets
from .labels import motion_quality_scores, mqs_labels
from .model import mqpm_checkpoint
from .theta import DEFAULT_THETA, get_theta

__all__ = ["TrainConfig", "TrainingSet", "prepare_training_set", "train_mqpm", "train_network"]

_log = logging.getLogger("vsodboost.train")

# Fields that may change between an interrupted run and its resumption without changing the result.
_RESUME_FREE = {"log_every", "ckpt_every", "device", "out", "work_dir", "cache_dir", "num_threads"}


@dataclass
class TrainConfig:
    """Everything that defines an MQPM training run (stored in every checkpoint and in the shipped file)."""

    data: list[str] = field(default_factory=list)
    out: str = "mqpm.pt"
    flow: str = "dis"
    theta: str = "default"
    encoder: str = "tf_efficientnet_lite0"
    input_size: int = 128
    cache_max_side: int = 384
    batch_size: int = 8
    iterations: int = 300
    lr: float = 1e-3  # the paper's "10e-3", read as 1e-3 (Adam); cosine decay to lr_min_factor·lr
    encoder_lr: float = 1e-4  # pretrained encoder layers that are trained move 10× slower
    lr_min_factor: float = 0.02
    freeze_stages: int = 5  # the stem and the first N encoder stages keep their ImageNet weights (CPU budget)
    hflip: bool = True
    cls_weight: float = 1.0  # Eq. 5 sums the two losses with equal weight
    #: "mean": Eq. 6 averaged over pixels and frames, Eq. 7 over frames; "sum": both summed as the paper writes them
    #: (Eq. 6 over pixels and frames, Eq. 7 over frames), which weighs the map term H·W times more (16,384× at 128²)
    reduction: str = "sum"
    #: then the classification head alone for this many more steps, on Eq. 7 averaged over frames, with the rest of
    #: the network (the motion map of Eq. 6, BN statistics included) frozen; 0: no second stage. Measured by
    #: cross-validation inside DAVIS-TR: the summed Eq. 5 makes the better motion map, this stage the better HQ
    #: classifier on top of it (docs/mqpm.md)
    head_iterations: int = 0
    val_sequences: list[str] = field(default_factory=list)
    seed: int = 0
    log_every: int = 20
    ckpt_every: int = 100
    device: str = "auto"
    work_dir: str | None = None
    cache_dir: str | None = None
    num_threads: int = 0

    def __post_init__(self) -> None:
        if self.input_size % 32:
            raise InputError(f"input_size must be a multiple of 32 (the encoder's stride); got {self.input_size}")
        for k in ("batch_size", "iterations", "input_size"):
            if getattr(self, k) < 1:
                raise InputError(f"{k} must be ≥ 1; got {getattr(self, k)}")
        if self.head_iterations < 0:
            raise InputError(f"head_iterations must be ≥ 0 (0: no head-only stage); got {self.head_iterations}")
        if self.reduction not in ("mean", "sum"):
            raise InputError(f"reduction must be 'mean' or 'sum' (Eqs. 6–7 as written); got {self.reduction!r}")
        if not 0 <= self.freeze_stages <= 7:
            raise InputError(f"freeze_stages must be within 0..7; got {self.freeze_stages}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def work_path(self) -> Path:
        return Path(self.work_dir) if self.work_dir else Path(str(self.out) + ".train")


@dataclass
class TrainingSet:
    """In-memory training samples at the network's input size (both flips precomputed)."""

    images: torch.Tensor  # uint8 (N, 2, 3, S, S): [plain, flipped] colour-coded flows
    masks: torch.Tensor  # uint8 (N, 2, S, S) in {0, 1}
    mqs: torch.Tensor  # float (N,)
    labels: torch.Tensor  # float (N,) in {0, 1}
    lam: float
    keys: list[tuple[str, str, str]]  # (dataset, sequence, stem)

    def __len__(self) -> int:
        return len(self.keys)


def _color(flows: torch.Tensor) -> torch.Tensor:
    from ..flow import flow_to_color

    return flow_to_color(flows)


def flip_flow(flows: torch.Tensor) -> torch.Tensor:
    """Horizontal mirror of a flow field: mirror the grid and negate the x-component."""
    f = flows.flip(-1).clone()
    f[:, 0] = -f[:, 0]
    return f


def prepare_training_set(sets: Sequence[FlowSet], *, theta: str | Callable = "default", input_size: int = 128,
                         mqs: np.ndarray | None = None) -> TrainingSet:
    """MQS (Eq. 1) on the cached resolution, λ and labels over the whole set (Eqs. 2–4), samples at input size."""
    if not sets:
        raise InputError("the training set is empty")
    images, masks, scores, keys = [], [], [], []
    s = (input_size, input_size)
    theta_fn = get_theta(theta) if mqs is None else None  # once: a named Θ is built per call ("spatial": a network)
    for fs in sets:
        flows = torch.from_numpy(fs.flows).float()
        gt = torch.from_numpy(fs.gt)
        if mqs is None:
            scores.append(motion_quality_scores(_color(flows), gt, theta_fn))
        both = []
        for f in (flows, flip_flow(flows)):
            # colour-code at the cached resolution, then resize the image: what predict() sees at inference
            img = _color(f).float()
            both.append(F.interpolate(img, size=s, mode="bilinear", align_corners=False, antialias=True)
                        .round().clamp(0, 255).to(torch.uint8))
        images.append(torch.stack(both, 1))
        g = F.interpolate(gt[:, None].float() / 255, size=s, mode="bilinear", align_corners=False)[:, 0]
        masks.append(torch.stack([(g > 0.5), (g.flip(-1) > 0.5)], 1).to(torch.uint8))
        keys.extend((fs.dataset, fs.sequence, st) for st in fs.stems)
    score_t = torch.from_numpy(np.asarray(mqs, np.float32)) if mqs is not None else torch.cat(scores)
    if score_t.numel() != len(keys):
        raise InputError(f"{score_t.numel()} MQS for {len(keys)} training frames")
    labels, lam = mqs_labels(score_t)
    return TrainingSet(torch.cat(images), torch.cat(masks), score_t, labels.float(), lam, keys)


def _freeze(net: SaliencyUNet, stages: int) -> list[str]:
    """Freeze the encoder stem and its first ``stages`` block groups (parameters and BN statistics)."""
    prefixes = ("conv_stem.", "bn1.") + tuple(f"blocks.{i}." for i in range(stages)) if stages else ()
    frozen = []
    for name, p in net.encoder.named_parameters():
        if prefixes and name.startswith(prefixes):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def _set_train(net: SaliencyUNet, stages: int) -> None:
    net.train()
    if stages:  # frozen layers keep their ImageNet BN statistics (batch 8 would only add noise)
        for name, m in net.encoder.named_modules():
            if name.startswith(("conv_stem", "bn1")) or any(name.startswith(f"blocks.{i}") for i in range(stages)):
                m.eval()


def _resume(net: SaliencyUNet, opt: torch.optim.Optimizer, path: Path, cfg: TrainConfig) -> dict[str, Any]:
    """Load a training state into ``net`` and ``opt``, refusing one written by another configuration (the fields
    that change the result: all but :data:`_RESUME_FREE`); returns the checkpoint for its counters."""
    ck = load_checkpoint(path)
    old = {k: v for k, v in ck["config"].items() if k not in _RESUME_FREE}
    new = {k: v for k, v in cfg.to_dict().items() if k not in _RESUME_FREE}
    if diff := settings_diff(old, new):
        raise InputError(f"{path} was written by another configuration ({'; '.join(diff)}; checkpoint → now); "
                         "use another --work-dir or --restart to start over")
    load_state_dict_strict(net, ck["model"], source=str(path))
    opt.load_state_dict(ck["optimizer"])
    return ck


def _lr_factor(step: int, iterations: int, min_factor: float) -> float:
    """Cosine decay from 1 to ``min_factor`` over ``iterations`` steps."""
    t = min(step / max(iterations, 1), 1.0)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * t))


def _draw(train_set: TrainingSet, cfg: TrainConfig, key: int, device: torch.device):
    """The batch of one step, from a generator seeded with ``key`` alone: a resumed run sees the same samples as an
    uninterrupted one."""
    g = torch.Generator().manual_seed(key)
    idx = torch.randint(len(train_set), (cfg.batch_size,), generator=g)
    flip = torch.randint(2, (cfg.batch_size,), generator=g) if cfg.hflip else torch.zeros_like(idx)
    return _batch(train_set, idx, flip, device)


def _losses(net: SaliencyUNet, x: torch.Tensor, y: torch.Tensor, lab: torch.Tensor, cls_weight: float,
            reduction: str = "mean"):
    """Eq. 5 = Eq. 6 (BCE of the motion saliency map against the GT) + ``cls_weight`` × Eq. 7 (logistic loss of the
    HQ logit against the MQS label). The paper writes both as sums (Eq. 6 over pixels u and frames i, Eq. 7 over
    frames); ``reduction="sum"`` (the shipped recipe, TrainConfig's default) does that within the batch, ``"mean"``
    averages each term, which is the summed form with the classification term weighted H·W times more (see
    docs/mqpm.md for both measured)."""
    logits, hq = net(x)
    l_map = F.binary_cross_entropy_with_logits(logits[:, 0], y, reduction=reduction)  # Eq. 6
    l_cls = F.binary_cross_entropy_with_logits(hq, lab, reduction=reduction)  # Eq. 7 (logistic loss)
    return l_map + cls_weight * l_cls, l_map, l_cls, hq  # Eq. 5


def _batch(ts: TrainingSet, idx: torch.Tensor, flip: torch.Tensor, device: torch.device):
    x = ts.images[idx, flip].to(device).float() / 255
    y = ts.masks[idx, flip].to(device).float()
    return x, y, ts.labels[idx].to(device)


@torch.no_grad()
def _evaluate(net: SaliencyUNet, ts: TrainingSet, device: torch.device, cls_weight: float, bs: int = 16,
              reduction: str = "mean") -> dict:
    net.eval()
    tot, n, correct = 0.0, 0, 0
    for i in range(0, len(ts), bs):
        idx = torch.arange(i, min(i + bs, len(ts)))
        x, y, lab = _batch(ts, idx, torch.zeros_like(idx), device)
        loss, _, _, hq = _losses(net, x, y, lab, cls_weight, reduction)
        tot += float(loss) * (len(idx) if reduction == "mean" else 1)
        n += len(idx)
        correct += int(((hq > 0) == (lab > 0.5)).sum())
    return {"loss": tot / n, "acc": correct / n}


def train_network(cfg: TrainConfig, train_set: TrainingSet, val_set: TrainingSet | None = None,
                  *, work_dir: Path | None = None, meta: dict[str, Any] | None = None) -> SaliencyUNet:
    """Train (or resume) the MQPM network on prepared samples; returns the best (or last) network on CPU.

    ``cfg.seed`` seeds the initialisation inside a forked RNG and ``cfg.num_threads`` applies for the call only: the
    caller's RNG state and thread count are left as they were (no global torch state set by the library)."""
    device = resolve_device(cfg.device)
    with torch_threads(cfg.num_threads or None), seeded(cfg.seed, device):
        net = _train_network(cfg, train_set, val_set, device, work_dir, meta)
        if cfg.head_iterations:
            net = _train_head(cfg, net, train_set, val_set, device, work_dir or cfg.work_path(), meta)
        return net


def _train_network(cfg: TrainConfig, train_set: TrainingSet, val_set: TrainingSet | None, device: torch.device,
                   work_dir: Path | None, meta: dict[str, Any] | None) -> SaliencyUNet:
    work = work_dir or cfg.work_path()
    work.mkdir(parents=True, exist_ok=True)
    net = SaliencyUNet(UNetConfig(encoder=cfg.encoder, cls_head=True, input_size=(cfg.input_size,) * 2),
                       pretrained=True)
    _freeze(net, cfg.freeze_stages)
    net.to(device)
    enc = [p for n, p in net.encoder.named_parameters() if p.requires_grad]
    rest = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    opt = torch.optim.Adam([{"params": enc, "lr": cfg.encoder_lr, "base": cfg.encoder_lr},
                            {"params": rest, "lr": cfg.lr, "base": cfg.lr}])
    step, best = 0, float("inf")
    ema: float | None = None
    last_p, best_p = work / "last.pt", work / "best.pt"
    if last_p.is_file():
        ck = _resume(net, opt, last_p, cfg)
        step, best, ema = int(ck["step"]), float(ck["best"]), ck.get("ema")
        _log.info("resuming %s at step %d/%d", last_p, step, cfg.iterations)

    def save(path: Path) -> None:  # atomic: an interruption never leaves a half-written checkpoint
        ck = {"config": cfg.to_dict(), "step": step, "best": best, "ema": ema, "model": net.state_dict(),
              "optimizer": opt.state_dict(), "meta": dict(meta or {})}
        atomic_write(path, lambda f: torch.save(ck, f))

    t0, seen = time.time(), 0
    logf = open(work / "log.jsonl", "a")
    _set_train(net, cfg.freeze_stages)
    while step < cfg.iterations:
        x, y, lab = _draw(train_set, cfg, cfg.seed * 1_000_003 + step, device)  # depends on (seed, step) only
        f = _lr_factor(step, cfg.iterations, cfg.lr_min_factor)
        for grp in opt.param_groups:
            grp["lr"] = grp["base"] * f
        loss, l_map, l_cls, _ = _losses(net, x, y, lab, cfg.cls_weight, cfg.reduction)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += 1
        lv = loss.item()
        ema = lv if ema is None else 0.95 * ema + 0.05 * lv
        if step % cfg.log_every == 0 or step == cfg.iterations:
            rate = seen / (time.time() - t0)
            rec = {"step": step, "loss": lv, "map": l_map.item(), "cls": l_cls.item(), "ema": ema,
                   "lr": cfg.lr * f, "it_s": rate}
            _log.info("step %d/%d loss %.4f (map %.4f cls %.4f, ema %.4f) lr %.2e %.2f it/s ETA %.0f s", step,
                      cfg.iterations, rec["loss"], rec["map"], rec["cls"], ema, rec["lr"], rate,
                      (cfg.iterations - step) / max(rate, 1e-9))
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
        if step % cfg.ckpt_every == 0 or step == cfg.iterations:
            if val_set is not None:
                ev = _evaluate(net, val_set, device, cfg.cls_weight, reduction=cfg.reduction)
                _set_train(net, cfg.freeze_stages)
                monitored = ev["loss"]
                _log.info("step %d validation loss %.4f HQ accuracy %.3f", step, ev["loss"], ev["acc"])
                logf.write(json.dumps({"step": step, "val": ev}) + "\n")
            else:
                monitored = ema
            if monitored < best:
                best = monitored
                save(best_p)
            save(last_p)
    logf.close()
    src = best_p if best_p.is_file() else last_p
    final = load_checkpoint(src)
    load_state_dict_strict(net, final["model"], source=str(src))
    _log.info("training done: %s (step %d, monitored loss %.4f)", src, final["step"], final["best"])
    return net.cpu().eval()


def _train_head(cfg: TrainConfig, net: SaliencyUNet, train_set: TrainingSet, val_set: TrainingSet | None,
                device: torch.device, work: Path, meta: dict[str, Any] | None) -> SaliencyUNet:
    """Second stage (``cfg.head_iterations`` steps): the classification head alone on Eq. 7 averaged over frames;
    every other parameter and BN statistic stays as the first stage left it, so the motion map is unchanged.
    Same batches scheme (seeded by step, after the first stage's), lr ``cfg.lr`` with the same cosine decay; resumes
    from ``head_last.pt``; the last step is exported."""
    net = net.to(device)
    for name, p in net.named_parameters():
        p.requires_grad_(name.startswith("cls."))
    opt = torch.optim.Adam(net.cls.parameters(), lr=cfg.lr)
    step, path = 0, work / "head_last.pt"
    if path.is_file():
        ck = _resume(net, opt, path, cfg)
        step = int(ck["step"])
        _log.info("resuming %s at head step %d/%d", path, step, cfg.head_iterations)

    def save() -> None:
        ck = {"config": cfg.to_dict(), "step": step, "model": net.state_dict(), "optimizer": opt.state_dict(),
              "meta": dict(meta or {})}
        atomic_write(path, lambda f: torch.save(ck, f))

    def set_train() -> None:
        net.eval()
        net.cls.train()

    t0, seen = time.time(), 0
    set_train()
    with open(work / "log.jsonl", "a") as logf:
        while step < cfg.head_iterations:
            x, y, lab = _draw(train_set, cfg, cfg.seed * 1_000_003 + cfg.iterations + step, device)
            f = _lr_factor(step, cfg.head_iterations, cfg.lr_min_factor)
            for grp in opt.param_groups:
                grp["lr"] = cfg.lr * f
            _, _, l_cls, _ = _losses(net, x, y, lab, 1.0, "mean")  # Eq. 7 averaged; Eq. 6 has no gradient here
            opt.zero_grad(set_to_none=True)
            l_cls.backward()
            opt.step()
            step += 1
            seen += 1
            if step % cfg.log_every == 0 or step == cfg.head_iterations:
                rate = seen / (time.time() - t0)
                _log.info("head step %d/%d cls %.4f lr %.2e %.2f it/s", step, cfg.head_iterations, l_cls.item(),
                          cfg.lr * f, rate)
                logf.write(json.dumps({"stage": "head", "step": step, "cls": l_cls.item(), "lr": cfg.lr * f,
                                       "it_s": rate}) + "\n")
                logf.flush()
            if step % cfg.ckpt_every == 0 or step == cfg.head_iterations:
                if val_set is not None:
                    ev = _evaluate(net, val_set, device, 1.0)
                    set_train()
                    _log.info("head step %d validation HQ accuracy %.3f", step, ev["acc"])
                    logf.write(json.dumps({"stage": "head", "step": step, "val": ev}) + "\n")
                save()
    for p in net.parameters():
        p.requires_grad_(True)
    _log.info("head stage done: %s (step %d)", path, step)
    return net.cpu().eval()


def train_mqpm(cfg: TrainConfig, *, flow_sets: Sequence[FlowSet] | None = None) -> Path:
    """The whole ``vsodboost train mqpm`` pipeline; returns the exported checkpoint path."""
    if flow_sets is None:
        if not cfg.data:
            raise InputError("no training data: pass at least one --data ROOT (DAVIS or DAVSOD layout)")
        flow_sets = build_flow_sets(cfg.data, cfg.flow, cache_dir=cfg.cache_dir, max_side=cfg.cache_max_side)
    t0 = time.time()
    names = {fs.sequence for fs in flow_sets}
    unknown = set(cfg.val_sequences) - names
    if unknown:
        raise InputError(f"validation sequences {sorted(unknown)} are not in the training data ({sorted(names)})")
    train_sets = [fs for fs in flow_sets if fs.sequence not in cfg.val_sequences]
    val_sets = [fs for fs in flow_sets if fs.sequence in cfg.val_sequences]
    ts = prepare_training_set(train_sets, theta=cfg.theta, input_size=cfg.input_size)
    vs = prepare_training_set(val_sets, theta=cfg.theta, input_size=cfg.input_size) if val_sets else None
    _log.info("training set: %d frames of %d sequences, λ = %.4f, %.1f%% HQ", len(ts), len(train_sets), ts.lam,
              100 * float(ts.labels.mean()))
    work = cfg.work_path()
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(work / "labels.json", json.dumps(
        {"lambda": ts.lam, "frames": [{"key": "/".join(k), "mqs": float(m), "hq": bool(lab)}
                                      for k, m, lab in zip(ts.keys, ts.mqs.tolist(), ts.labels.tolist())]}).encode())
    theta_name = DEFAULT_THETA if cfg.theta == "default" else cfg.theta
    data_meta = {"theta": theta_name, "datasets": sorted({fs.dataset for fs in train_sets}),
                 "sequences": len(train_sets),
                 "frames": len(ts), "lambda": ts.lam, "hq_fraction": float(ts.labels.mean()),
                 "trained_on": [trained_on_entry(fs.dataset, fs.sequence, len(fs), fs.fingerprint)
                                for fs in train_sets],
                 "validated_on": [fs.sequence for fs in val_sets]}
    net = train_network(cfg, ts, vs, work_dir=work, meta=data_meta)
    meta = {"train_config": cfg.to_dict(), "data": data_meta, "train_seconds": round(time.time() - t0, 1),
            "torch": str(torch.__version__)}
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ck = mqpm_checkpoint(net, meta)
    atomic_write(out, lambda f: torch.save(ck, f))
    _log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
