"""The one place vsodboost writes files — atomically, durably, with the user's umask — and reads saliency maps.

Every output goes to a temporary sibling ``.<name>.<random>.vsodboost-tmp`` (created with mode 0666 & ~umask, so
outputs are as readable as any other file the user creates), is flushed and ``fsync``-ed, then renamed over the
destination. A reader therefore sees either the old file or the whole new one, never a prefix. When the write fails
(disk full, read-only folder…) the temporary file is removed and :class:`~vsodboost.errors.OutputError` names the
path. :func:`clean_partials` removes temporaries left by a killed process (ours only, recognised by name).
:func:`atomic_write` is the one writer: bytes, JSON, PNG maps, checkpoints (``torch.save``), caches (``np.save``) and
downloads all go through it.

Maps are read one way (:func:`read_map`, also behind ``vsodboost eval``, ``bench`` and the maps-mode targets): as
``cv2.imread(path, cv2.IMREAD_GRAYSCALE)`` reads them — the field's toolkits and pysodmetrics do — so a colour map
takes the decoder's luma and a **16-bit map keeps its high byte** (``v >> 8``: 65535 → 255, 65280 → 255, 511 → 1).
Two exceptions, where that reading would give a flat map: a 16-bit map whose values are all ≤ 255 (8-bit values in a
16-bit file) is read as those values, and a 4-channel map of constant colour (a cut-out) from its alpha channel.
A map is therefore boosted and scored from the same 8-bit values. :data:`MAP_EXTS` and :func:`index_maps` say which
files are maps and which one a stem names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import threading
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import cv2
import numpy as np

from .errors import InputError, OutputError, OutputLockedError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_link_or_copy", "write_map_atomic", "write_json_atomic",
           "encode_map", "map_is_complete", "clean_partials", "fsync_dir", "check_output_dir", "TMP_SUFFIX",
           "MAP_EXTS", "read_map", "map_to_unit", "index_maps", "no_nan", "check_file_name", "out_path",
           "make_subdir", "temp_sibling", "publish", "write_image_atomic", "write_figure_atomic", "output_lock",
           "LOCK_FILE", "sha256_bytes", "read_unit_map", "STATE_FILE", "SUMMARY_FILE", "folder_sequence"]

#: Extensions of saliency-map files, in order of preference when a stem exists twice.
MAP_EXTS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp")

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


class _FdWriter:
    """A minimal binary file over a descriptor: every byte goes through ``os.write`` (unbuffered, so a failure —
    disk full — surfaces in the ``write`` call that hit it)."""

    def __init__(self, fd: int) -> None:
        self.fd, self.pos = fd, 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        while view:
            view = view[os.write(self.fd, view):]
        self.pos += n
        return n

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass


def _tmp_path(path: Path) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def check_file_name(name: Any, what: str = "file name") -> str:
    """``name`` when it names a file directly inside a folder: a non-empty string, not ``.`` or ``..``, without
    ``/``, ``\\`` or NUL (an absolute path or ``../x`` would leave the output folder); :class:`InputError` otherwise."""
    if not isinstance(name, str):
        raise InputError(f"{what} {name!r} is a {type(name).__name__}; expected a string")
    bad = (not name or name in (".", "..") or "\0" in name or "/" in name or "\\" in name
           or os.sep in name or (os.altsep is not None and os.altsep in name))
    if bad:
        raise InputError(f"{what} {name!r} is not a plain file name: it is empty, '.' or '..', or holds a path "
                         "separator or NUL, so writing it could leave the output folder; rename it (e.g. "
                         "load_video(..., names=[...]) with plain names such as '00000')")
    return name


def out_path(folder: str | os.PathLike[str], *names: str, what: str = "file name") -> Path:
    """``folder/names…`` after checking each name (:func:`check_file_name`) and that no sub-folder between
    ``folder`` and the file is a symlink: a writer never leaves its output folder. (The file itself may be a
    symlink: :func:`atomic_write` replaces it, never writing through it.)"""
    p = Path(folder)
    for i, n in enumerate(names):
        p = p / check_file_name(n, what)
        if i < len(names) - 1 and p.is_symlink():
            raise OutputError(f"{p} is a symlink; vsodboost writes only into folders it can see are real: remove "
                              "the link or choose another output folder")
    return p


def make_subdir(folder: str | os.PathLike[str], name: str) -> Path:
    """Create the sub-folder ``folder/name`` (if needed) without following a symlink planted under that name."""
    p = out_path(folder, name)
    if p.is_symlink():
        raise OutputError(f"{p} is a symlink; vsodboost writes only into folders it can see are real: remove the "
                          "link or choose another output folder")
    try:
        p.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {p}: {_reason(exc)}; choose a writable output folder") from exc
    if not p.is_dir():
        raise OutputError(f"{p} is a file; remove it or choose another output folder")
    return p


def temp_sibling(path: str | os.PathLike[str]) -> Path:
    """A new empty file beside ``path`` (``.<stem>.<random>.vsodboost-tmp<suffix>``, created here with
    ``O_EXCL`` so it is no symlink), for writers that need a file name (``cv2.VideoWriter`` picks the container from
    the extension). :func:`publish` renames it over ``path``; :func:`clean_partials` removes a left-over one."""
    path = Path(path)
    tmp = path.parent / f".{path.stem}.{secrets.token_hex(4)}{TMP_SUFFIX}{path.suffix}"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}; free space or choose a writable --out") from exc
    return tmp


def publish(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Make the finished file ``tmp`` (:func:`temp_sibling`) durable and rename it over ``path`` (a symlink there
    is replaced, not followed); the temporary is removed when that fails (:class:`OutputError`)."""
    tmp, path = Path(tmp), Path(path)
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {_reason(exc)}; free space or choose a writable --out") from exc
    fsync_dir(path.parent)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], *, sync_dir: bool = True,
                 verify: Callable[[Path], None] | None = None) -> None:
    """Write ``path`` through a fsync-ed temporary sibling and a rename: ``write(f)`` fills the binary file ``f``
    (``f.write(data)``, ``torch.save(obj, f)``, ``np.save(f, arr)``, ``shutil.copyfileobj(resp, f)``…).

    ``verify(tmp)`` may check the whole temporary file before it takes the name (a download's sha256): whatever it
    raises propagates and the temporary is removed. ``sync_dir=False`` skips the folder fsync (a caller writing many
    files syncs the folder once, with :func:`fsync_dir`, before recording them as done). An :class:`OSError` becomes
    :class:`OutputError` naming the path; the previous file is untouched either way.
    """
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0666 & ~umask, like open(..., "w")
        try:
            write(_FdWriter(fd))
            os.fsync(fd)
        finally:
            os.close(fd)
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {path}: {_reason(exc)}; free space or choose a writable --out") from exc
        raise
    if sync_dir:
        fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(data), sync_dir=sync_dir)


def atomic_link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Make ``dst`` a symlink to ``src`` (a copy where links are not possible), replacing ``dst`` atomically:
    mirrors a published file byte for byte without copying it."""
    dst = Path(dst)
    tmp = _tmp_path(dst)
    try:
        try:
            os.symlink(Path(src).resolve(), tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        raise OutputError(f"cannot write {dst}: {_reason(exc)}; free space or choose a writable --out") from exc


def encode_map(m: np.ndarray) -> bytes:
    """A [0,1] float map as 8-bit PNG bytes (rounded, clipped); NaN/inf is refused, never written as 0."""
    if not np.isfinite(m).all():
        raise InputError("a map to write holds NaN or infinite values; it would be saved as black")
    ok, buf = cv2.imencode(".png", np.clip(np.asarray(m) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if not ok:  # pragma: no cover - OpenCV encodes any 2-D uint8 array
        raise OutputError("cannot encode a map as PNG")
    return buf.tobytes()


def write_map_atomic(path: str | os.PathLike[str], m: np.ndarray, *, sync_dir: bool = True) -> str:
    """Save a [0,1] map as an 8-bit PNG, atomically (never a half-written map); returns the sha256 of the bytes
    written (``run_to_dir`` records it, so a resume can tell its own map from a replaced one)."""
    data = encode_map(m)
    atomic_write_bytes(path, data, sync_dir=sync_dir)
    return sha256_bytes(data)


def write_image_atomic(path: str | os.PathLike[str], img: np.ndarray, params: Iterable[int] = ()) -> None:
    """Save a uint8 image (BGR or gray) in the format of ``path``'s extension, atomically (``cv2.imwrite``
    would write through a symlink under that name)."""
    ok, buf = cv2.imencode(Path(path).suffix, img, list(params))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image in PNG/JPEG
        raise OutputError(f"cannot encode an image as {Path(path).suffix} for {path}")
    atomic_write_bytes(path, buf.tobytes())


def write_figure_atomic(fig: Any, path: str | os.PathLike[str], **savefig: Any) -> None:
    """Save a matplotlib figure atomically (``fig.savefig(path)`` would write through a symlink)."""
    import io as _stdio

    buf = _stdio.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **savefig)
    atomic_write_bytes(path, buf.getvalue())


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Save ``obj`` as indented JSON, atomically (values JSON cannot hold are written with ``str``)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def map_is_complete(path: str | os.PathLike[str], size: tuple[int, int] | None = None, *,
                    sha256: str | None = None) -> bool:
    """True when ``path`` is a whole PNG that decodes (to ``size`` = (H, W) when given) and, when ``sha256`` is
    given, whose bytes have that sha256 (a resume telling its own map from a replaced one)."""
    p = Path(path)
    if p.is_symlink():  # we never write links: someone put it there, and it may point anywhere
        return False
    try:
        data = p.read_bytes()
    except OSError:
        return False
    if not data.endswith(_PNG_END) or (sha256 is not None and sha256_bytes(data) != sha256):
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
        mine = f.name.startswith(".") and (f.name.endswith(TMP_SUFFIX) or f"{TMP_SUFFIX}." in f.name)
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


def read_map(path: str | os.PathLike[str]) -> tuple[np.ndarray, str | None]:
    """Read a saliency map (or a GT mask) as uint8 grayscale (H, W); returns ``(map, note)``, ``note`` saying what
    was converted (None for an 8-bit grayscale file).

    A colour or 16-bit file is converted exactly as ``cv2.imread(path, cv2.IMREAD_GRAYSCALE)`` does (the module
    docstring: 16-bit keeps its high byte). A missing, undecodable or truncated file (a JPEG without FF D9, a PNG
    without IEND, which OpenCV would decode partly grey) raises :class:`InputError` naming it.
    """
    from ._decode import decode_file

    p = Path(path)
    buf, img = decode_file(p, "saliency map", "re-download or re-export this map")
    if img.ndim == 2 and img.dtype == np.uint8:
        return img, None
    what = f"{img.shape[2]}-channel" if img.ndim == 3 else f"{img.dtype}"
    if img.dtype == np.uint16 and int(img.max()) <= 255 and img.any():
        # 8-bit values saved in a 16-bit file: the high byte would be all zero (a flat map); use the values
        low = img.astype(np.uint8)
        if low.ndim == 3:
            low = _to_gray(low)
        return low, f"{what} uint16 map holding 8-bit values (all ≤ 255) read as 8-bit"
    gray = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if gray is None:  # pragma: no cover - decodable unchanged but not as gray
        raise InputError(f"cannot read saliency map {p} as grayscale")
    if img.ndim == 3 and img.shape[2] == 4 and gray.min() == gray.max():
        alpha = img[:, :, 3]
        alpha = (alpha >> 8).astype(np.uint8) if alpha.dtype == np.uint16 else alpha.astype(np.uint8)
        if alpha.min() != alpha.max():  # a cut-out: colour constant, the mask is in the alpha channel
            return alpha, f"{what} {img.dtype} map with constant colour read from its alpha channel (a cut-out)"
    return gray, f"{what} {img.dtype} map converted to 8-bit grayscale (cv2.IMREAD_GRAYSCALE)"


def _to_gray(img: np.ndarray) -> np.ndarray:
    """8-bit BGR(A) → gray with OpenCV's luma (as ``cv2.IMREAD_GRAYSCALE`` converts)."""
    code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(np.ascontiguousarray(img), code)


def map_to_unit(img: np.ndarray, size: tuple[int, int] | None = None, *, normalize: bool = True) -> np.ndarray:
    """A uint8 map (:func:`read_map`) as float32 in [0, 1]: resized to ``size`` = (H, W) (bilinear) when it
    differs, divided by 255, then min-max normalised per image when ``normalize`` (as pysodmetrics does; a constant
    map stays as it is)."""
    if size is not None and img.shape[:2] != tuple(size):
        img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    m = img.astype(np.float32) / 255.0
    if normalize:
        lo, hi = float(m.min()), float(m.max())
        if hi > lo:
            m = (m - lo) / (hi - lo)
    return m


def read_unit_map(path: str | os.PathLike[str], size: tuple[int, int] | None = None, *,
                  normalize: bool = True) -> np.ndarray:
    """A saliency map as float32 in [0, 1], the field's way: :func:`read_map` (uint8, as
    ``cv2.IMREAD_GRAYSCALE`` reads it) then :func:`map_to_unit` (resized to ``size`` = (H, W), divided by 255,
    min-max normalised per image when ``normalize``) — as the maps-mode targets read their maps."""
    return map_to_unit(read_map(path)[0], size, normalize=normalize)


def index_maps(folder: str | os.PathLike[str], exts: Iterable[str] = MAP_EXTS, *, prefix: str = "",
               suffix: str = "") -> dict[str, Path]:
    """Stem → map file of ``folder``: files whose extension is in ``exts`` (any case), whose stem starts with
    ``prefix`` and ends with ``suffix`` (both removed from the key); when a stem exists with several extensions,
    the earliest in ``exts`` wins."""
    order = [e.lower() for e in exts]
    index: dict[str, Path] = {}
    for f in Path(folder).iterdir():
        ext = f.suffix.lower()
        if ext not in order or not f.is_file():
            continue
        stem = f.stem
        if not (stem.startswith(prefix) and stem.endswith(suffix)):
            continue
        stem = stem[len(prefix): len(stem) - len(suffix) if suffix else None]
        if stem not in index or order.index(ext) < order.index(index[stem].suffix.lower()):
            index[stem] = f
    return index


def no_nan(x: Any) -> Any:
    """``x`` with every NaN float (a metric not computed, e.g. wF with --no-wf, or a sequence with no scored frame)
    replaced by None, recursively through dicts, lists and tuples: strict JSON (``allow_nan=False``) holds it."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [no_nan(v) for v in x]
    return x


#: The advisory lock file of an output folder (:func:`output_lock`); it holds the pid of the run writing there.
LOCK_FILE = ".vsodboost.lock"

#: The two JSON files of an output folder, one schema each: a resumable run's state (``run_to_dir``: ``settings``,
#: ``buffers_done``, ``complete``) and a saved result's summary (``BoostResult.save``: ``sequence``, ``mined``,
#: ``buffers`` …). Before 0.2 the summary was written under the state's name; :func:`folder_sequence` reads both.
STATE_FILE = "vsodboost.json"
SUMMARY_FILE = "summary.json"
#: The subfolder of an output folder holding the earlier rounds of iterated boosting (``--rounds``):
#: ``<out>/rounds/<k>/`` is round k's own resumable output folder; the last round writes ``<out>`` itself.
ROUNDS_DIR = "rounds"


def folder_sequence(folder: str | os.PathLike[str]) -> str | None:
    """The sequence an output folder's maps belong to, as its state or summary file records it (None: neither)."""
    folder = Path(folder)
    for name in (STATE_FILE, SUMMARY_FILE):
        try:
            data = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        settings = data.get("settings")
        seq = settings.get("sequence") if isinstance(settings, dict) else data.get("sequence")  # state | summary
        if isinstance(seq, str) and seq:
            return seq
    return None

_held: dict[str, int] = {}  # output folders this process holds the lock of → how many nested holders
_held_guard = threading.Lock()


class _Replaced(Exception):
    """The lock file was removed (its holder finished) between our open and our flock: try again."""


def _lock_holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return f"pid {text}" if text.isdigit() else "pid unknown"


def _acquire(out: Path) -> Any:
    import filelock

    path = out / LOCK_FILE
    if path.is_symlink():
        raise OutputError(f"{path} is a symlink, not vsodboost's lock file; remove it")

    def mark(fd: int) -> None:  # we hold the flock: check it is on the file the name points at, then sign it
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except OSError:
            same = False
        if not same:
            raise _Replaced()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    for _ in range(20):
        try:
            lock, legacy = filelock.FileLock(path, timeout=0, on_acquired=mark), False
        except TypeError:  # filelock < 4 has no on_acquired: check and sign right after acquiring
            lock, legacy = filelock.FileLock(path, timeout=0), True
        try:
            lock.acquire()
            if legacy:
                fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
                try:
                    if fd is not None:
                        mark(fd)
                    else:  # pragma: no cover - very old filelock: sign through the name
                        path.write_text(f"{os.getpid()}\n")
                except _Replaced:
                    lock.release()
                    raise
            return lock
        except _Replaced:
            continue
        except filelock.Timeout:
            raise OutputLockedError(f"another vsodboost run is writing to {out} ({_lock_holder(path)}); wait for it "
                                    "to finish or choose another --out") from None
        except OSError as exc:
            raise OutputError(f"cannot lock output folder {out}: {_reason(exc)}; choose a writable --out") from exc
    raise OutputLockedError(f"another vsodboost run is writing to {out} ({_lock_holder(path)}); wait for it to "
                            "finish or choose another --out")


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the advisory lock of the output folder ``folder`` (created if needed, :func:`check_output_dir`) while
    the block runs: a second run on the same folder — another process — gets :class:`OutputLockedError`
    ``another vsodboost run is writing to DIR (pid N)`` at once, instead of two writers removing each other's
    temporary files. The lock is ``flock`` on ``DIR/.vsodboost.lock`` (via ``filelock``): the kernel drops it when
    its process dies, so a file left by a killed run (a stale lock) is simply taken over. The file is removed when
    the block ends. Nested holders in one process (the CLI, then ``run_to_dir`` on the same folder) share it."""
    out = check_output_dir(folder)
    key = os.path.realpath(out)
    with _held_guard:
        nested = key in _held
        if nested:
            _held[key] += 1
    if nested:
        try:
            yield out
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    lock = _acquire(out)
    with _held_guard:
        _held[key] = 1
    try:
        yield out
    finally:
        with _held_guard:
            del _held[key]
        with contextlib.suppress(OSError):  # removed while still held: a waiter then retries on a fresh file
            os.unlink(out / LOCK_FILE)
        lock.release()
