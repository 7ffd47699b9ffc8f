"""Boosting runs behind ``vsodboost bench``: a Booster that records what the report needs, and variants.

Every run goes through :func:`vsodboost.booster.run_to_dir`, so it is resumable buffer by buffer; the recording
Booster also writes, within the same buffer step (before the buffer is marked done), the target's maps, the MQPM's
motion saliency maps and Θ's motion saliency maps of that buffer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..booster import Booster
from ..io import atomic_link_or_copy, write_map_atomic
from ..mining import Selection, select_frames
from ..results import BufferOutput, MiningRecord

__all__ = ["recording_booster", "random_frames_booster", "Recorder", "random_frames"]


class Recorder:
    """A Booster observer that writes, per buffer, ``<record>/target/<seq>/<stem>.png`` (the target's maps:
    published files are mirrored byte for byte, live maps written as 8-bit PNG), ``<record>/motion/<seq>/`` (MQPM
    motion saliency, at flow resolution), ``<record>/theta/<seq>/`` (Θ of the colour-coded flow) and
    ``<record>/spatial/<seq>/`` (the fine-tuned spatial model's own maps: the output with ``fusion="replace"``)."""

    def __init__(self, record: Path, target: Any, theta: Any = "default") -> None:
        from ..mqpm.theta import get_theta

        self.record, self.target, self.theta = Path(record), target, get_theta(theta)

    def _dir(self, kind: str, seq: str) -> Path:
        d = self.record / kind / seq
        d.mkdir(parents=True, exist_ok=True)
        return d

    def on_mined(self, rec: MiningRecord) -> None:
        motion = rec.motion_saliency.detach().float().cpu().numpy()
        theta = self.theta(rec.flow_images.cpu()).detach().float().cpu().numpy()
        dm, dt = self._dir("motion", rec.sequence), self._dir("theta", rec.sequence)
        for i, n in enumerate(rec.names):
            write_map_atomic(dm / f"{n}.png", motion[i])
            write_map_atomic(dt / f"{n}.png", theta[i])

    def on_buffer(self, video: Any, start: int, stop: int, out: BufferOutput) -> None:
        ds = self._dir("spatial", video.name)  # the paper's output (fusion "replace"), beside the fused one
        for n, m in zip(video.names[start:stop], out.spatial):
            write_map_atomic(ds / f"{n}.png", m)
        src = self._published_maps(video)
        d = self._dir("target", video.name)
        for n, m in zip(video.names[start:stop], out.target):
            if m is None:
                continue
            if src is not None and n in src:
                atomic_link_or_copy(src[n], d / f"{n}{src[n].suffix.lower()}")
            else:
                write_map_atomic(d / f"{n}.png", m)

    def _published_maps(self, video: Any) -> dict[str, Path] | None:
        """Source files of a maps-mode target (so its numbers are those of the published maps), else None."""
        from ..adapters import PrecomputedTarget

        t = self.target
        if not isinstance(t, PrecomputedTarget):
            return None
        try:
            return t.map_files(t.sequence or video.name)
        except Exception:  # noqa: BLE001 - fall back to writing the maps the Booster saw
            return None


def recording_booster(target: Any, *, record: Path, theta: Any = "default", **kw: Any) -> Booster:
    """A :class:`Booster` with a :class:`Recorder` observing it (what ``vsodboost bench``'s main run records)."""
    return Booster(target, observers=[Recorder(record, target, theta)], **kw)


def random_frames(hq_prob: np.ndarray, consistency: np.ndarray, has_target: np.ndarray, *, period: int,
                  threshold: float, seed: int) -> Selection:
    """The paper's "MS−MQPM" control: as many frames as the MQPM's selection keeps, drawn at random (seeded by the
    buffer's seed) among the frames with a target map."""
    sel = select_frames(hq_prob, consistency, has_target, period=period, threshold=threshold)
    has = [int(i) for i in np.flatnonzero(has_target)]
    rng = np.random.default_rng(seed)
    k = min(len(sel.indices), len(has))
    pick = sorted(int(i) for i in rng.choice(has, size=k, replace=False)) if k else []
    return Selection(pick, has, fallback=sel.fallback,
                     warnings=sel.warnings + ([f"random control: kept {pick}"] if pick else []))


def random_frames_booster(target: Any, **kw: Any) -> Booster:
    """A :class:`Booster` whose mined frames are :func:`random_frames`."""
    return Booster(target, selector=random_frames, **kw)
