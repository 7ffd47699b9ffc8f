"""Decoding image and video files, a leaf below :mod:`vsodboost.video` and :mod:`vsodboost.io`: the one image
decoder (frames and saliency maps alike, refusing truncated JPEG/PNG files), frame conversion to uint8 RGB, the
checks that tell a truncated video file, the file extensions and the natural sort. ``vsodboost.video`` is the
public face of the names users call (``read_image``, ``natural_key``, ``IMAGE_EXTS``…)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InputError

__all__ = ["IMAGE_EXTS", "VIDEO_EXTS", "FRAME_DIRS", "natural_key", "to_rgb_uint8", "decode_file", "read_image",
           "file_truncation", "mp4_problem", "REDO", "REENCODE"]


IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


#: Names of a sequence's frame folder (``<seq>/Imgs``…), in order of preference: the sequence is the parent folder.
FRAME_DIRS = ("Imgs", "imgs", "Images", "JPEGImages", "images", "frames", "rgb", "img")


def natural_key(text: str) -> list[Any]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(text))]


def to_rgb_uint8(arr: np.ndarray, where: str, *, bgr: bool = False) -> np.ndarray:
    """Convert one frame to contiguous uint8 RGB H×W×3 (see module docstring for the accepted forms)."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(f"{where}: expected a frame H×W×3 (or grayscale H×W, RGBA H×W×4), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{where}: frame has an empty dimension {arr.shape}")
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{where}: frame contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"{where}: float frames must lie in [0, 1], got range [{lo:.3g}, {hi:.3g}]; "
                "divide by 255 or pass uint8"
            )
        arr = (arr * 255.0).round().astype(np.uint8)
    else:
        raise InputError(f"{where}: unsupported frame dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1]")
    c = arr.shape[2]
    if c == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif c == 4:
        arr = arr[:, :, :3]
    if bgr:
        arr = arr[:, :, ::-1]
    return np.ascontiguousarray(arr)


def _truncated(data: bytes) -> str:
    """Why ``data`` is an incomplete JPEG or PNG ('' when it is whole or another format).

    OpenCV's ``imread`` decodes a truncated JPEG with its lower part grey and only prints "Premature end of JPEG
    file"; the end markers tell: a JPEG ends with FF D9 (trailing zero padding allowed), a PNG with its IEND chunk.
    """
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return "a JPEG without its end-of-image marker (FF D9): the file is truncated"
    if data[:8] == b"\x89PNG\r\n\x1a\n" and not data.endswith(b"IEND\xaeB`\x82"):
        return "a PNG without its IEND chunk: the file is truncated"
    return ""


def decode_file(path: Path, what: str, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """The image file ``path`` decoded as it is stored (``cv2.IMREAD_UNCHANGED``: any depth, any channels), with its
    bytes as a uint8 buffer (to decode them again another way). The one reader of frames (:func:`read_image`) and
    saliency maps (:func:`vsodboost.io.read_map`): an unreadable, truncated (JPEG without FF D9, PNG without IEND,
    which OpenCV would decode partly grey) or undecodable file raises :class:`InputError` ``cannot read <what>
    <path>: <why>; <fix>``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if not data:  # OpenCV raises a bare cv2.error (!buf.empty()) on an empty buffer
        raise InputError(f"cannot read {what} {path}: the file is empty (0 bytes: an interrupted copy or download?); "
                         f"{fix}")
    why = _truncated(data)
    if why:
        raise InputError(f"cannot read {what} {path}: {why}; {fix}")
    buf = np.frombuffer(data, np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None:
        raise InputError(f"cannot read {what} {path}: not an image OpenCV can decode (corrupt, empty, unsupported "
                         f"format or wrong extension); {fix}")
    return buf, img


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as uint8 RGB H×W×3 (conversions as in the module docstring).

    Truncated JPEG/PNG files are refused (:class:`InputError` naming the file) instead of decoding partly grey.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"frame file {p} does not exist")
    _, img = decode_file(p, "frame", "re-extract or re-download this frame")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return to_rgb_uint8(img, str(p), bgr=img.ndim == 3 and img.shape[2] == 3)


#: containers whose frame count OpenCV reads from an index or header (exact); for the others it is estimated from the
#: duration and the frame rate, so a shortfall of a frame or two is not taken for a truncation
_EXACT_COUNT = (".mp4", ".m4v", ".mov", ".avi")


REDO = "re-download or re-export the video"


REENCODE = (REDO + "; to boost only the frames that decode, re-mux them (`ffmpeg -i {p} -c copy fixed{ext}`) "
             "or extract them into a folder of frames (`ffmpeg -i {p} frames/%05d.png`) and pass that")


_MP4_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")


def mp4_problem(path: Path) -> str:
    """Why an MP4/MOV file is incomplete ('' when its top-level boxes are whole and hold a ``moov`` index).

    A recording or download that stopped early leaves a file whose last box runs past the end and, when the index is
    written last (as OpenCV's and many cameras' writers do), no ``moov`` box: OpenCV then cannot open it at all."""
    try:
        size, pos, moov = path.stat().st_size, 0, False
        with open(path, "rb") as f:
            if f.read(8)[4:8] not in _MP4_FIRST_BOXES:
                return (f"it does not start like an MP4/MOV file (no 'ftyp' box): it is not a video, or its extension "
                        f"{path.suffix!r} is wrong")
            while pos + 8 <= size:
                f.seek(pos)
                head = f.read(16)
                n, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if n == 1 and len(head) == 16:
                    n = int.from_bytes(head[8:16], "big")
                elif n == 0:
                    n = size - pos
                if n < 8:
                    return f"its box at byte {pos} is malformed (the file is corrupt)"
                moov = moov or kind == b"moov"
                if pos + n > size:
                    return (f"its {kind.decode('latin-1')!r} box needs {n} bytes from byte {pos} but the file ends "
                            f"at {size}: the file is truncated" + ("" if moov else " and has no 'moov' index"))
                pos += n
    except OSError:
        return ""
    return "" if moov else "it has no 'moov' index (the recording or download stopped before it was written)"


def file_truncation(path: Path, decoded: int, reported: float) -> str:
    """Why a video file that decoded ``decoded`` frames looks truncated ('' when it does not): its container
    reported ``reported`` (``CAP_PROP_FRAME_COUNT``) and fewer decode. Counts that are estimated (not in an index,
    see ``_EXACT_COUNT``) may miss by a frame or two; unknown counts (≤ 0) cannot tell."""
    want = int(round(reported)) if reported == reported and reported > 0 else 0
    slack = 0 if path.suffix.lower() in _EXACT_COUNT else max(2, int(0.01 * want))
    if want and decoded < want - slack:
        return (f"its container reports {want} frames but only {decoded} decode (frames {decoded}… are missing: the "
                "file is truncated or corrupt from there on)")
    return ""
