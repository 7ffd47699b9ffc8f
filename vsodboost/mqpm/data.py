"""Training data of the MQPM: flows of annotated frames, computed once and cached on disk, with their GT.

Cache layout (outside the repository; default ``$VSODBOOST_CACHE`` or ``/tmp/vsodboost-cache``)::

    <cache>/flows/<backend>/<sequence>-<key>/flows.npy   float16 (N, 2, h, w), annotated frames in frame order
    <cache>/flows/<backend>/<sequence>-<key>/gt.npy      uint8   (N, h, w), the masks resized to (h, w)
    <cache>/flows/<backend>/<sequence>-<key>/meta.json   stems, shapes, backend, sha256 of both arrays

``key`` hashes the frame and mask paths, sizes and mtimes, the backend description and the cache resolution, so
an edited dataset gets a new entry. A cache entry whose files are missing, unreadable, of the wrong shape or whose
sha256 differs from ``meta.json`` is reported and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np
import torch

from .._weights import sha256_file
from ..datasets import SequenceData, read_dataset
from ..errors import InputError
from ..io import atomic_write, atomic_write_bytes
from .._decode import read_image

__all__ = ["FlowSet", "default_cache_dir", "load_training_sequences", "cached_flows", "build_flow_sets", "resize_flow"]

_log = logging.getLogger("vsodboost.mqpm")
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("VSODBOOST_CACHE", Path(tempfile.gettempdir()) / "vsodboost-cache"))


@dataclass
class FlowSet:
    """The cached flows of one sequence's annotated frames."""

    sequence: str
    dataset: str
    stems: list[str]
    flows: np.ndarray  # float16 (N, 2, h, w), pixels of the (h, w) grid
    gt: np.ndarray  # uint8 (N, h, w) in {0, 255}
    fingerprint: str = ""  # SequenceData.fingerprint() of the source: recorded in the checkpoint's trained_on

    def __len__(self) -> int:
        return len(self.stems)


def load_training_sequences(roots: Sequence[str | os.PathLike[str]], layout: str = "auto") -> list[tuple[str, SequenceData]]:
    """Read every dataset root; keep sequences with GT. Raises when the whole set has no GT or a root is empty.

    Returns ``(dataset name, sequence)`` pairs; sequences without any mask are skipped with a warning.
    """
    out: list[tuple[str, SequenceData]] = []
    for root in roots:
        seqs = read_dataset(root, layout)  # type: ignore[arg-type]
        if not seqs:
            raise InputError(f"training root {root} holds no sequences")
        for s in seqs:
            if not s.gt:
                _log.warning("sequence %s of %s has no GT masks: skipped", s.name, root)
                continue
            if len(s.frames) < 2:
                raise InputError(
                    f"sequence {s.name!r} of {root} has {len(s.frames)} frame; the MQPM is trained on optical flow, "
                    "which needs at least 2 consecutive frames: remove the sequence or add its frames"
                )
            out.append((Path(root).name, s))
    if not out:
        raise InputError(
            f"no sequence under {[str(r) for r in roots]} has GT masks; MQPM training needs binary masks "
            "(DAVIS: Annotations/480p/<seq>/<stem>.png, DAVSOD: <seq>/ground-truth/<stem>.png) matched by frame stem"
        )
    names = [f"{d}/{s.name}" for d, s in out]
    if len(set(names)) != len(names):
        raise InputError(f"two training sequences share a name: {sorted({n for n in names if names.count(n) > 1})}")
    return out


def resize_flow(flow: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N,2,H,W) flows to ``size`` = (h, w), scaling the vectors with the grid."""
    f = torch.as_tensor(flow).float()
    h0, w0 = f.shape[-2:]
    h, w = size
    if (h, w) == (h0, w0):
        return f
    out = torch.nn.functional.interpolate(f, size=(h, w), mode="bilinear", align_corners=False)
    out[:, 0] *= w / w0
    out[:, 1] *= h / h0
    return out


def _cache_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    s = min(1.0, max_side / max(h, w))
    return max(8, round(h * s)), max(8, round(w * s))


def _key(seq: SequenceData, backend_desc: str, max_side: int) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{backend_desc}|{max_side}".encode())
    for p in list(seq.frames) + [seq.gt[s] for s in seq.annotated]:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _runs(idx: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in idx:
        if runs and i == runs[-1][-1] + 1 and len(runs[-1]) < 32:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _compute(seq: SequenceData, backend: Any, max_side: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from ..flow import buffer_flows

    stems = seq.stems
    ann = seq.annotated
    idx = [stems.index(s) for s in ann]
    t = len(stems)
    first = read_image(seq.frames[0])
    h0, w0 = first.shape[:2]
    size = _cache_size(h0, w0, max_side)
    flows, gts = [], []

    def frames(a: int, b: int) -> torch.Tensor:
        arr = []
        for p in seq.frames[a:b]:
            im = read_image(p)
            if im.shape[:2] != (h0, w0):
                raise InputError(f"{p}: frame is {im.shape[1]}×{im.shape[0]}, the sequence's first frame {w0}×{h0}")
            arr.append(torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1))
        return torch.stack(arr)

    # Consecutive annotated frames share one buffer_flows call: flow[i] = i → i+1, the last frame of the sequence
    # gets buffer_flows' negated backward flow, exactly as the Booster computes flows on its buffers.
    for run in _runs(idx):
        a, b = run[0], run[-1]
        if b + 1 < t:
            fl = buffer_flows(backend, frames(a, b + 2))[: len(run)]
        else:
            lo = min(a, t - 2)
            fl = buffer_flows(backend, frames(lo, t))[a - lo:]
        flows.append(resize_flow(fl, size).half().numpy())
    for s in ann:
        m = read_image(seq.gt[s])
        if m.shape[:2] != (h0, w0):
            raise InputError(
                f"GT {seq.gt[s]} is {m.shape[1]}×{m.shape[0]} but its frame is {w0}×{h0}; masks must match frames"
            )
        m = m.max(axis=2) if m.ndim == 3 else m
        m = cv2.resize(((m > 128) * 255).astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        gts.append(((m > 127) * 255).astype(np.uint8))
    return np.concatenate(flows), np.stack(gts), ann


def _save_atomic(path: Path, arr: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, arr), sync_dir=False)


def _load_entry(d: Path, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Load a cache entry, or None (with the reason logged) when it is missing or corrupt."""
    meta_p = d / "meta.json"
    if not meta_p.is_file():
        return None
    try:
        meta = json.loads(meta_p.read_text())
        for name in ("flows", "gt"):
            if sha256_file(d / f"{name}.npy") != meta[f"{name}_sha256"]:
                raise ValueError(f"{name}.npy sha256 differs from meta.json")
        flows = np.load(d / "flows.npy", allow_pickle=False)
        gt = np.load(d / "gt.npy", allow_pickle=False)
        if flows.shape[0] != n or gt.shape[0] != n or flows.shape[1] != 2 or flows.shape[2:] != gt.shape[1:]:
            raise ValueError(f"shapes {flows.shape} / {gt.shape} do not fit {n} annotated frames")
        if not np.isfinite(flows).all():
            raise ValueError("non-finite flow values")
    except Exception as exc:  # corrupt entry: say so, then recompute
        _log.warning("flow cache %s is corrupt (%s: %s): recomputing", d, type(exc).__name__, exc)
        return None
    return flows, gt


def cached_flows(
    seq: SequenceData,
    backend: Any,
    *,
    backend_name: str,
    dataset: str = "",
    cache_dir: str | os.PathLike[str] | None = None,
    max_side: int = 384,
) -> FlowSet:
    """Flows (frame i → i+1) and GT of ``seq``'s annotated frames at ≤ ``max_side`` pixels, from the cache or
    computed with ``backend`` and stored."""
    if not seq.gt:
        raise InputError(f"sequence {seq.name!r} has no GT; the MQPM trains on annotated frames only")
    if len(seq.frames) < 2:
        raise InputError(f"sequence {seq.name!r} has {len(seq.frames)} frame; flow needs at least 2 frames")
    desc = f"{backend_name}:{backend!r}"
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    d = root / "flows" / backend_name / f"{seq.name}-{_key(seq, desc, max_side)}"
    ann = seq.annotated
    got = _load_entry(d, len(ann))
    if got is None:
        _log.info("flows of %s (%d annotated frames) with %s: computing", seq.name, len(ann), backend_name)
        flows, gt, stems = _compute(seq, backend, max_side)
        d.mkdir(parents=True, exist_ok=True)
        (d / "meta.json").unlink(missing_ok=True)  # the entry is invalid until meta.json is rewritten last
        _save_atomic(d / "flows.npy", flows)
        _save_atomic(d / "gt.npy", gt)
        meta = {"version": CACHE_VERSION, "sequence": seq.name, "dataset": dataset, "backend": desc,
                "stems": stems, "shape": list(flows.shape), "max_side": max_side,
                "flows_sha256": sha256_file(d / "flows.npy"), "gt_sha256": sha256_file(d / "gt.npy")}
        atomic_write_bytes(d / "meta.json", json.dumps(meta, indent=1).encode(), sync_dir=False)
    else:
        flows, gt = got
    return FlowSet(seq.name, dataset, list(ann), flows, gt, seq.fingerprint())


def build_flow_sets(
    roots: Iterable[str | os.PathLike[str]],
    flow: str = "dis",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    max_side: int = 384,
    flow_kwargs: dict[str, Any] | None = None,
) -> list[FlowSet]:
    """Flows + GT of every annotated frame of every sequence under ``roots`` (cached)."""
    from ..flow import create_flow

    seqs = load_training_sequences(list(roots))
    backend = create_flow(flow, **(flow_kwargs or {}))
    out = []
    for i, (ds, s) in enumerate(seqs):
        out.append(cached_flows(s, backend, backend_name=flow, dataset=ds, cache_dir=cache_dir, max_side=max_side))
        _log.info("[%d/%d] %s/%s: %d frames", i + 1, len(seqs), ds, s.name, len(out[-1]))
    return out
