"""Streaming accumulator: ``step()`` frames (or batches) of a dataset, then ``results()``.

Averaging modes (name them when you report numbers):

* ``frame`` (pysodmetrics' default): every annotated frame weighs the same; the F- and E-curves are averaged over
  frames, then maxF / meanF / maxE / meanE are the max / mean of the averaged curve.
* ``video``: each sequence is first summarised on its own frames exactly as above (so its maxF is the max of its
  own mean curve), then every summary value is averaged over sequences, so long sequences do not dominate.

``skip_ends=True`` drops the first and the last annotated frame of each sequence (in the order they were stepped),
as the DAVSOD evaluation toolbox does.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal

import torch
from torch import Tensor

from ..errors import InputError
from .functional import metrics_from_stats, prepare, stats_of, wf_of

__all__ = ["SODMetrics", "METRIC_KEYS", "summarize"]

#: Keys of a summary, in the order tables print them.
METRIC_KEYS: tuple[str, ...] = ("maxF", "meanF", "adpF", "S", "MAE", "maxE", "meanE", "adpE", "wF")
_SCALARS = ("MAE", "S", "adpF", "adpE", "wF")
_CURVES = ("F_curve", "P_curve", "R_curve", "E_curve")
Average = Literal["frame", "video"]


def summarize(frames: dict[str, Tensor]) -> dict[str, Any]:
    """Summary of a set of frames given their per-frame values (scalars (N,), curves (N, 256))."""
    n = int(frames["S"].shape[0])
    out: dict[str, Any] = {"frames": n}
    if n == 0:
        out.update({k: float("nan") for k in METRIC_KEYS})
        return out
    f = frames["F_curve"].mean(0)
    e = frames["E_curve"].mean(0)
    out.update(
        maxF=float(f.max()), meanF=float(f.mean()), adpF=float(frames["adpF"].mean()),
        S=float(frames["S"].mean()), MAE=float(frames["MAE"].mean()),
        maxE=float(e.max()), meanE=float(e.mean()), adpE=float(frames["adpE"].mean()),
        wF=float(frames["wF"].mean()) if "wF" in frames else float("nan"),
    )
    return out


class SODMetrics:
    """Accumulate MAE, S-measure, F/E-measure curves (and weighted F) over a dataset.

    Args:
        weighted_f: also compute the weighted F-measure (slower: a distance transform per frame).
        normalize: per-image min-max of the prediction; None = pysodmetrics' default for uint8 maps, off for floats.

    Example::

        metric = SODMetrics()
        for seq, pred, gt in pairs:            # uint8 (H, W) or (B, H, W) maps
            metric.step(pred, gt, sequence=seq)
        metric.results()                       # {'frames': ..., 'maxF': ..., 'S': ..., ...}
        metric.results(average="video", skip_ends=True)
    """

    def __init__(self, *, weighted_f: bool = True, normalize: bool | None = None) -> None:
        self.weighted_f = weighted_f
        self.normalize = normalize
        self._chunks: list[dict[str, Tensor]] = []
        self._seq: list[str] = []
        self._names: list[str] = []

    def __len__(self) -> int:
        return len(self._seq)

    def reset(self) -> None:
        self._chunks.clear()
        self._seq.clear()
        self._names.clear()

    def step(self, pred: Any, gt: Any, *, sequence: str = "", names: list[str] | str | None = None) -> None:
        """Add one frame (H, W) or a batch (B, H, W) of the same size, all from ``sequence``, in temporal order."""
        p, g, is_u8, normalize = prepare(pred, gt, self.normalize)
        vals = metrics_from_stats(stats_of(p, g, is_u8, normalize))
        if self.weighted_f:
            vals["wF"] = wf_of(p, g, is_u8, normalize)
        self._chunks.append({k: v.detach().cpu() for k, v in vals.items()})
        b = p.shape[0]
        if isinstance(names, str):
            names = [names]
        if names is not None and len(names) != b:
            raise InputError(f"names: got {len(names)} names for a batch of {b} frames")
        self._seq.extend([sequence] * b)
        self._names.extend(names if names is not None else [str(len(self._names) + i) for i in range(b)])

    # ------------------------------------------------------------------------------------------ results

    @property
    def frame_keys(self) -> list[tuple[str, str]]:
        """``(sequence, name)`` of every frame stepped so far, in the order of :meth:`frame_values`' rows."""
        return list(zip(self._seq, self._names))

    def frame_values(self) -> dict[str, Tensor]:
        """Per-frame values of every frame stepped so far (scalars (N,), curves (N, 256))."""
        if not self._chunks:
            return {k: torch.empty(0, dtype=torch.float64) for k in _SCALARS} | {
                k: torch.empty(0, 256, dtype=torch.float64) for k in _CURVES}
        keys = self._chunks[0].keys()
        return {k: torch.cat([c[k] for c in self._chunks]) for k in keys}

    def _groups(self, skip_ends: bool) -> "OrderedDict[str, list[int]]":
        groups: OrderedDict[str, list[int]] = OrderedDict()
        for i, s in enumerate(self._seq):
            groups.setdefault(s, []).append(i)
        if skip_ends:
            groups = OrderedDict((s, idx[1:-1]) for s, idx in groups.items())
        return groups

    def per_sequence(self, *, skip_ends: bool = False) -> list[dict[str, Any]]:
        """One summary per sequence (frame-averaged within the sequence), in the order sequences first appeared."""
        vals = self.frame_values()
        out = []
        for seq, idx in self._groups(skip_ends).items():
            sel = torch.tensor(idx, dtype=torch.long)
            out.append({"sequence": seq, **summarize({k: v[sel] for k, v in vals.items()})})
        return out

    def results(self, *, average: Average = "frame", skip_ends: bool = False) -> dict[str, Any]:
        """Dataset summary: ``frames`` (number of frames used) and :data:`METRIC_KEYS`."""
        if average not in ("frame", "video"):
            raise InputError(f"average: expected 'frame' or 'video', got {average!r}")
        if average == "frame":
            vals = self.frame_values()
            idx = [i for group in self._groups(skip_ends).values() for i in group]
            return summarize({k: v[torch.tensor(sorted(idx), dtype=torch.long)] for k, v in vals.items()})
        seqs = [s for s in self.per_sequence(skip_ends=skip_ends) if s["frames"] > 0]
        out: dict[str, Any] = {"frames": sum(s["frames"] for s in seqs)}
        for k in METRIC_KEYS:
            out[k] = float(torch.tensor([s[k] for s in seqs], dtype=torch.float64).mean()) if seqs else float("nan")
        return out

    def curves(self, *, skip_ends: bool = False) -> dict[str, list[float]]:
        """Frame-averaged curves for plotting: precision, recall, F and E at thresholds 0 .. 255 (ascending)."""
        vals = self.frame_values()
        idx = torch.tensor(sorted(i for g in self._groups(skip_ends).values() for i in g), dtype=torch.long)
        names = {"P_curve": "precision", "R_curve": "recall", "F_curve": "F", "E_curve": "E"}
        return {out: torch.flip(vals[k][idx].mean(0), [0]).tolist() for k, out in names.items()}
