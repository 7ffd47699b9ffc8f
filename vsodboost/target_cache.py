"""A cache of a live target's maps on disk, so a rerun with other settings (another preset, seed, more rounds) does
not run the target again (issue 25: a live U²-Net-p costs about as much as the `fast` boost itself).

``CachedTarget(target, root)`` wraps any target: the first time a frame is asked for, the target runs and its map is
stored as a 16-bit PNG ``<root>/<sequence>/<frame>.png`` (``cache.json`` beside records the target's identity and
the frames it had no map for); afterwards the stored map is read instead. The maps handed to the Booster are the
16-bit values on the first run too (within 1/65535 of the target's floats), so a run and its rerun give the same
bytes. A cache made by another target is refused (:class:`ResumeError`) rather than mixed in: choose another root
or delete it. "Another target" is what the resume key of a run would see (:func:`vsodboost.identity.target_identity`):
the target's ``identity()``, else its type, address-free repr and weights — the sha256 of the state dict of any
network it holds, so a model retrained in place is refused too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InputError, ResumeError
from .io import atomic_write_bytes, check_file_name, output_lock, write_json_atomic
from .identity import target_identity
from .target import check_target_output
from .video import Video

__all__ = ["CachedTarget", "CACHE_FILE"]

#: The record of a cache folder: the target's identity and the frames it gave no map for.
CACHE_FILE = "cache.json"
_SCALE = 65535.0


class CachedTarget:
    """``target``'s maps, computed once per frame and kept under ``root`` (see the module docstring)."""

    def __init__(self, target: Any, root: str | os.PathLike[str]) -> None:
        if not callable(getattr(target, "predict", None)) or not hasattr(target, "name"):
            raise InputError(f"CachedTarget: {target!r} is not a target (it needs a name and predict(video))")
        self.target = target
        self.root = Path(root).expanduser()
        self.name = target.name
        self.provenance = getattr(target, "provenance", None)
        self._ident = target_identity(target)

    def identity(self) -> dict[str, Any]:
        """The wrapped target's identity (a cached run resumes like an uncached one would, 16-bit values aside)."""
        return {**self._ident, "cache": "png16"}

    def _record(self, folder: Path) -> dict[str, Any]:
        f = folder / CACHE_FILE
        if not f.is_file():
            return {"target": self._ident, "no_map": []}
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            raise ResumeError(f"target cache {f} is unreadable ({exc}); delete {folder} to rebuild it") from exc
        if rec.get("target") != self._ident:
            raise ResumeError(f"target cache {folder} holds maps of another target or other weights/options "
                              f"({rec.get('target')!r}, not {self._ident!r}); use another cache folder or delete it")
        return rec

    def predict(self, video: Video) -> list[np.ndarray | None]:
        folder = self.root / check_file_name(video.name, "sequence name")
        for n in video.names:
            check_file_name(n, "frame name")
        rec = self._record(folder)
        no_map = set(rec["no_map"])
        paths = {n: folder / f"{n}.png" for n in video.names}
        if all(n in no_map or paths[n].is_file() for n in video.names):
            return [None if n in no_map else self._read(paths[n]) for n in video.names]
        maps = check_target_output(self.target.predict(video), video, self.target,
                                   full_size=getattr(video, "full_size", None))
        out: list[np.ndarray | None] = []
        with output_lock(folder):
            rec = self._record(folder)  # another process may have added frames meanwhile
            for n, m in zip(video.names, maps):
                if m is None:
                    rec["no_map"] = sorted(set(rec["no_map"]) | {n})
                    out.append(None)
                    continue
                q = np.clip(np.rint(np.asarray(m, np.float32) * _SCALE), 0, _SCALE).astype(np.uint16)
                ok, buf = cv2.imencode(".png", q)
                if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint16 array
                    raise InputError(f"cannot encode the target's map of {n!r} as a 16-bit PNG")
                atomic_write_bytes(paths[n], buf.tobytes(), sync_dir=False)
                out.append(q.astype(np.float32) / _SCALE)
            write_json_atomic(folder / CACHE_FILE, rec)
        return out

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.dtype != np.uint16 or img.ndim != 2:
            raise ResumeError(f"target cache file {path} is not a 16-bit map we wrote; delete it to recompute it")
        return img.astype(np.float32) / _SCALE

    def __getattr__(self, attr: str) -> Any:  # coverage, explain_no_match … of a maps-mode target pass through
        if attr.startswith("_") or attr in ("target", "root"):
            raise AttributeError(attr)
        return getattr(self.target, attr)

    def __repr__(self) -> str:
        return f"CachedTarget({self.target!r}, root={str(self.root)!r})"
