"""Boosting runs behind ``vsodboost bench``: a Booster that records what the report needs, and variants.

Every run goes through :func:`vsodboost.booster.run_to_dir`, so it is resumable buffer by buffer; the recording
Booster also writes, within the same buffer step (before the buffer is marked done), the target's maps, the MQPM's
motion saliency maps and Θ's motion saliency maps of that buffer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..booster import Booster, write_map_atomic
from ..mining import Selection

__all__ = ["RecordingBooster", "RandomFramesBooster", "MQPMTap"]


class MQPMTap:
    """Wraps an MQPM and keeps its last output (the Booster's ``mine`` discards the motion saliency map)."""

    def __init__(self, mqpm: Any) -> None:
        self.inner = mqpm
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def provenance(self) -> Any:
        return getattr(self.inner, "provenance", repr(self.inner))

    def predict(self, flow_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.last = self.inner.predict(flow_images)
        return self.last

    def __repr__(self) -> str:
        return repr(self.inner)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Mirror a published map byte for byte (symlink, or a copy where links are not possible)."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.exists() or tmp.is_symlink():
        tmp.unlink()
    try:
        os.symlink(src.resolve(), tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


class RecordingBooster(Booster):
    """A :class:`Booster` that also writes, per buffer, ``<record>/target/<seq>/<stem>.png`` (the target's maps:
    published files are mirrored byte for byte, live maps written as 8-bit PNG), ``<record>/motion/<seq>/`` (MQPM
    motion saliency, at flow resolution) and ``<record>/theta/<seq>/`` (Θ of the colour-coded flow)."""

    def __init__(self, *args: Any, record: Path, theta: Any = "default", **kw: Any) -> None:
        super().__init__(*args, **kw)
        from ..mqpm.theta import get_theta

        self.record = Path(record)
        self.theta = get_theta(theta)
        self.mqpm = MQPMTap(self.mqpm)
        self.buffers_run = 0
        self._clip: tuple[str, list[str]] | None = None

    def _dir(self, kind: str) -> Path:
        assert self._clip is not None
        d = self.record / kind / self._clip[0]
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _run_buffer(self, video: Any, start: int, stop: int, seed: int) -> dict[str, Any]:
        self._clip = (video.name, list(video.names[start:stop]))
        self.buffers_run += 1
        out = super()._run_buffer(video, start, stop, seed)
        src = self._published_maps(video)
        d = self._dir("target")
        for n, m in zip(self._clip[1], out["target"]):
            if m is None:
                continue
            if src is not None and n in src:
                _link_or_copy(src[n], d / f"{n}{src[n].suffix.lower()}")
            else:
                write_map_atomic(d / f"{n}.png", m)
        return out

    def _published_maps(self, video: Any) -> dict[str, Path] | None:
        """Source files of a maps-mode target (so its numbers are those of the published maps), else None."""
        from ..adapters import PrecomputedTarget

        t = self.target
        if not isinstance(t, PrecomputedTarget):
            return None
        try:
            return t._index(t.sequence_dir(t.sequence or video.name))
        except Exception:  # noqa: BLE001 - fall back to writing the maps the Booster saw
            return None

    def mine(self, flow_images: torch.Tensor, target_maps: list[np.ndarray | None]):
        hq, cons, sel = super().mine(flow_images, target_maps)
        assert self.mqpm.last is not None and self._clip is not None
        motion = self.mqpm.last[1].detach().float().cpu().numpy()
        theta = self.theta(flow_images.cpu()).detach().float().cpu().numpy()
        dm, dt = self._dir("motion"), self._dir("theta")
        for i, n in enumerate(self._clip[1]):
            write_map_atomic(dm / f"{n}.png", motion[i])
            write_map_atomic(dt / f"{n}.png", theta[i])
        return hq, cons, sel


class RandomFramesBooster(Booster):
    """Keeps as many frames per buffer as the MQPM's selection would, but drawn at random among the frames with a
    target map (the paper's "MS−MQPM" control). Seeded by the Booster's seed and the buffer's start."""

    def _run_buffer(self, video: Any, start: int, stop: int, seed: int) -> dict[str, Any]:
        self._seed = seed
        return super()._run_buffer(video, start, stop, seed)

    def mine(self, flow_images: torch.Tensor, target_maps: list[np.ndarray | None]):
        hq, cons, sel = super().mine(flow_images, target_maps)
        has = [i for i, m in enumerate(target_maps) if m is not None]
        rng = np.random.default_rng(getattr(self, "_seed", self.seed))
        k = min(len(sel.indices), len(has))
        pick = sorted(int(i) for i in rng.choice(has, size=k, replace=False)) if k else []
        return hq, cons, Selection(pick, has, fallback=sel.fallback,
                                   warnings=sel.warnings + ([f"random control: kept {pick}"] if pick else []))
