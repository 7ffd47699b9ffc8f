"""The one place vsodboost writes files: atomically, durably, with the user's umask.

Every output goes to a temporary sibling ``.<name>.<random>.vsodboost-tmp`` (created with mode 0666 & ~umask, so
outputs are as readable as any other file the user creates), is flushed and ``fsync``-ed, then renamed over the
destination. A reader therefore sees either the old file or the whole new one, never a prefix. When the write fails
(disk full, read-only folder…) the temporary file is removed and :class:`~vsodboost.errors.OutputError` names the
path. :func:`clean_partials` removes temporaries left by a killed process (ours only, recognised by name).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from .errors import InputError, OutputError

__all__ = ["atomic_write_bytes", "write_map_atomic", "write_json_atomic", "encode_map", "map_is_complete",
           "clean_partials", "fsync_dir", "check_output_dir", "TMP_SUFFIX"]

TMP_SUFFIX = ".vsodboost-tmp"
_PNG_END = b"IEND\xaeB`\x82"  # the last 8 bytes of every complete PNG (IEND chunk type + its CRC)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make renames inside ``folder`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` through a fsync-ed temporary sibling and a rename.

    ``sync_dir=False`` skips the folder fsync (a caller writing many files syncs the folder once, with
    :func:`fsync_dir`, before recording them as done).
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0666 & ~umask, like open(..., "w")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write {path}: {_reason(exc)}; free space or choose a writable --out") from exc
    if sync_dir:
        fsync_dir(path.parent)


def encode_map(m: np.ndarray) -> bytes:
    """A [0,1] float map as 8-bit PNG bytes (rounded, clipped); NaN/inf is refused, never written as 0."""
    if not np.isfinite(m).all():
        raise InputError("a map to write holds NaN or infinite values; it would be saved as black")
    ok, buf = cv2.imencode(".png", np.clip(np.asarray(m) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint8 array
        raise OutputError("cannot encode a map as PNG")
    return buf.tobytes()


def write_map_atomic(path: str | os.PathLike[str], m: np.ndarray, *, sync_dir: bool = True) -> None:
    """Save a [0,1] map as an 8-bit PNG, atomically (never a half-written map)."""
    atomic_write_bytes(path, encode_map(m), sync_dir=sync_dir)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Save ``obj`` as indented JSON, atomically (values JSON cannot hold are written with ``str``)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def map_is_complete(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> bool:
    """True when ``path`` is a whole PNG that decodes (to ``size`` = (H, W) when given)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError:
        return False
    if not data.endswith(_PNG_END):
        return False
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return img is not None and (size is None or tuple(img.shape[:2]) == tuple(size))


def clean_partials(folder: str | os.PathLike[str], stems: Iterable[str] = ()) -> list[Path]:
    """Remove temporary files a killed writer left in ``folder``; returns what was removed.

    Ours are ``.*.vsodboost-tmp``; vsodboost ≤ 0.x wrote ``<stem>.<8 random chars>.png`` and
    ``vsodboost.<8 random chars>.json`` (``tempfile.mkstemp``), recognised only for the given frame ``stems``.
    """
    folder = Path(folder)
    removed: list[Path] = []
    outputs = {f"{s}.png" for s in stems}
    legacy = outputs | {"vsodboost.json"}
    pattern = re.compile(r"^(?P<stem>.+)\.[a-z0-9_]{8}(?P<ext>\.png|\.json)$")
    for f in folder.iterdir():
        mine = f.name.startswith(".") and f.name.endswith(TMP_SUFFIX)
        m = None if mine or f.name in outputs else pattern.match(f.name)  # a frame may be named "a.1234abcd"
        if mine or (m and f"{m['stem']}{m['ext']}" in legacy):
            if f.is_file():
                f.unlink()
                removed.append(f)
    return removed


def check_output_dir(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and prove it writable (a probe file, removed at once), before any compute.

    Raises :class:`OutputError` naming the path when it is a file, lies under a file, or cannot be written.
    """
    out = Path(folder)
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == out else f"lies under {p}, which is a file"
                raise OutputError(f"output folder {out} {where}; choose a folder path for --out")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {_reason(exc)}; choose a writable --out") from exc
    probe = out / f".probe.{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"output folder {out} is not writable ({_reason(exc)}); fix its permissions or choose "
                          "another --out") from exc
    return out
