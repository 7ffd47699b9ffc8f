"""One internal video type for every input form.

:func:`load_video` accepts a folder of frames (natural sort), a video file (OpenCV), a list of H×W×3 uint8 arrays,
or a uint8/float array or tensor shaped (T,H,W,C) or (T,C,H,W), and returns a :class:`Video`: uint8 RGB frames with
their names (stems). Folder- and file-backed videos decode frames on access, so long videos stream from disk.

Conversions (documented fallbacks, applied per frame): grayscale → replicated to RGB; RGBA → alpha dropped;
16-bit → scaled to 8 bits (÷257); float input must lie in [0, 1] (→ ×255, rounded). Everything else is refused with
an :class:`~vsodboost.errors.InputError`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence, Union, overload

import cv2
import numpy as np
import torch

from ._decode import (FRAME_DIRS, IMAGE_EXTS, REDO, REENCODE, VIDEO_EXTS, file_truncation, mp4_problem,
                      natural_key, read_image, to_rgb_uint8)
from .errors import InputError

# natural_key, read_image, IMAGE_EXTS, VIDEO_EXTS and FRAME_DIRS live in the leaf vsodboost._decode, below io and
# the registry; this module is their public face
__all__ = ["Video", "load_video", "natural_key", "read_image", "IMAGE_EXTS", "VIDEO_EXTS", "VideoLike"]


_FRAME_DIR_NAMES = {d.lower() for d in FRAME_DIRS}

VideoLike = Union["Video", str, os.PathLike, Sequence[np.ndarray], np.ndarray, torch.Tensor]


class _FileSource:
    """Decodes frames of a video file on demand; sequential access never seeks.

    A file that ends early is refused (:class:`InputError`) rather than boosted short: its container's frame count
    is compared with the frames that decode, and an MP4/MOV that OpenCV cannot open is checked for a missing index.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            why = mp4_problem(path) if path.suffix.lower() in (".mp4", ".m4v", ".mov") else ""
            if path.stat().st_size == 0:
                why = "the file is empty (0 bytes)"
            if why:
                raise InputError(f"cannot open video file {path}: {why}; {REDO}")
            raise InputError(f"cannot open video file {path} with OpenCV (corrupt or unsupported codec)")
        reported = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        n = 0
        while cap.grab():  # count decodable frames: CAP_PROP_FRAME_COUNT is unreliable for many containers
            n += 1
        cap.release()
        if n == 0:
            raise InputError(f"video file {path} has no decodable frames")
        why = file_truncation(path, n, reported)
        if why:
            raise InputError(f"video file {path}: {why}; " + REENCODE.format(p=path, ext=path.suffix))
        self.length = n
        self._cap: cv2.VideoCapture | None = None
        self._next = 0

    def read(self, i: int) -> np.ndarray:
        with self._lock:
            if self._cap is None or i != self._next:
                if self._cap is None:
                    self._cap = cv2.VideoCapture(str(self.path))
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, frame = self._cap.read()
            if not ok:
                raise InputError(f"{self.path}: cannot decode frame {i} of {self.length} (the file is corrupt from "
                                 "there on, or changed since it was opened); "
                                 + REENCODE.format(p=self.path, ext=self.path.suffix))
            self._next = i + 1
            return to_rgb_uint8(frame, f"{self.path} frame {i}", bgr=True)


class Video(Sequence[np.ndarray]):
    """Frames of one clip (uint8 RGB H×W×3, all the same size) with their names (stems).

    ``video[i]`` returns frame ``i``; ``video.tensor(start, stop)`` returns uint8 (T,3,H,W). Every frame must share
    the first frame's size: a mismatch raises :class:`InputError` naming the frame. ``full_size`` (H, W): the frames'
    own size when these are downscaled copies at the working resolution (:mod:`vsodboost.workres`); by default
    :attr:`size`. Results are returned at the full size.
    """

    def __init__(
        self,
        *,
        arrays: Sequence[np.ndarray] | None = None,
        paths: Sequence[Path] | None = None,
        file: _FileSource | None = None,
        names: Sequence[str] | None = None,
        name: str = "video",
        full_size: tuple[int, int] | None = None,
    ) -> None:
        if sum(x is not None for x in (arrays, paths, file)) != 1:
            raise InputError("Video needs exactly one of arrays, paths or file")
        self._arrays = list(arrays) if arrays is not None else None
        self._paths = list(paths) if paths is not None else None
        self._file = file
        n = len(self._arrays) if self._arrays is not None else len(self._paths) if self._paths is not None else file.length  # type: ignore[union-attr]
        if n == 0:
            raise InputError(f"video {name!r} has no frames; expected at least one")
        if names is None:
            names = [p.stem for p in self._paths] if self._paths is not None else [f"{i:05d}" for i in range(n)]
        names = [str(s) for s in names]
        if len(names) != n:
            raise InputError(f"video {name!r}: {n} frames but {len(names)} names")
        if len(set(names)) != n:
            dup = sorted({s for s in names if names.count(s) > 1})[:5]
            raise InputError(f"video {name!r}: frame names must be unique, repeated: {dup}")
        self.names: list[str] = names
        self.name = name
        first = self._load(0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self._full_size = None if full_size is None else (int(full_size[0]), int(full_size[1]))
        if self._arrays is not None:  # in memory: check every size now (files are checked as they are read)
            for i in range(1, n):
                self[i]

    # -- construction helpers ------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        if self._paths is not None:
            return str(self._paths[0].parent)
        if self._file is not None:
            return str(self._file.path)
        return "memory"

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return self.height, self.width

    @property
    def full_size(self) -> tuple[int, int]:
        """(H, W) of the frames as they came: :attr:`size`, unless these frames are working-size copies."""
        return self._full_size or self.size

    def _load(self, i: int) -> np.ndarray:
        if self._arrays is not None:
            return self._arrays[i]
        if self._paths is not None:
            return read_image(self._paths[i])
        return self._file.read(i)  # type: ignore[union-attr]

    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, i: slice) -> "Video": ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            idx = range(len(self))[i]
            clip = Video(arrays=[self[j] for j in idx], names=[self.names[j] for j in idx], name=self.name,
                         full_size=self._full_size)
            clip.sequence_names = getattr(self, "sequence_names", self.names)  # a buffer knows its sequence's frames
            return clip
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame index {i} out of range for a video of {n} frames")
        i %= n
        frame = self._load(i)
        if frame.shape[:2] != (self.height, self.width):
            raise InputError(
                f"video {self.name!r}: frame {self.names[i]!r} is {frame.shape[1]}×{frame.shape[0]} but the first "
                f"frame is {self.width}×{self.height}; all frames of a video must have the same size"
            )
        return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def tensor(self, start: int = 0, stop: int | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
        """Frames ``start:stop`` as a uint8 tensor (T,3,H,W) on ``device``."""
        stop = len(self) if stop is None else stop
        arr = np.stack([self[i] for i in range(start, stop)])
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(device)

    def buffers(self, size: int) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive buffers of at most ``size`` frames covering the video."""
        if size < 1:
            raise InputError(f"buffer size must be ≥ 1, got {size}")
        for s in range(0, len(self), size):
            yield s, min(s + size, len(self))

    def __repr__(self) -> str:
        return f"Video(name={self.name!r}, frames={len(self)}, size={self.width}×{self.height}, source={self.source!r})"


def _from_array(x: np.ndarray, names: Sequence[str] | None, name: str) -> Video:
    if x.ndim == 3:  # a single frame is not a video; be explicit about it
        raise InputError(
            f"got an array of shape {x.shape}; a video needs a leading time axis: (T,H,W,3) or (T,3,H,W)"
        )
    if x.ndim != 4:
        raise InputError(f"video array must be 4-D (T,H,W,C) or (T,C,H,W), got shape {x.shape}")
    last_is_c, second_is_c = x.shape[3] in (1, 3, 4), x.shape[1] in (1, 3, 4)
    if second_is_c and not last_is_c:
        x = np.moveaxis(x, 1, 3)
    elif not last_is_c:
        raise InputError(f"video array shape {x.shape}: no channel axis of size 1, 3 or 4 at position 1 or 3")
    elif second_is_c:
        raise InputError(f"video array shape {x.shape} is ambiguous (channels first or last?); pass (T,H,W,3)")
    frames = [to_rgb_uint8(x[i], f"{name} frame {i}") for i in range(x.shape[0])]
    return Video(arrays=frames, names=names, name=name)


def load_video(source: VideoLike, *, names: Sequence[str] | None = None, name: str | None = None) -> Video:
    """Normalise any supported input into a :class:`Video` (see the module docstring)."""
    if name is not None and not isinstance(name, str):
        raise InputError(f"name must be a string (the sequence name a maps-mode target looks up), got {name!r} "
                         f"({type(name).__name__})")
    if isinstance(source, Video):
        return source
    if isinstance(source, (str, os.PathLike)):
        p = Path(source).expanduser()
        if not p.exists():
            raise InputError(f"video source {p} does not exist; pass a folder of frames or a video file")
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS),
                           key=lambda f: natural_key(f.name))
            if not files:
                raise InputError(f"folder {p} holds no frames with extensions {', '.join(IMAGE_EXTS)}")
            # `<seq>/Imgs` (DAVSOD layout) and similar: the sequence is the parent folder
            default = p.parent.name if p.name.lower() in _FRAME_DIR_NAMES else p.name
            return Video(paths=files, names=names, name=name or default)
        if p.suffix.lower() in IMAGE_EXTS:
            raise InputError(f"{p} is a single image; a video needs a folder of frames or a video file")
        return Video(file=_FileSource(p), names=names, name=name or p.stem)
    if isinstance(source, torch.Tensor):
        t = source.detach().cpu()
        if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
            t = t.float()
        return _from_array(t.numpy(), names, name or "video")
    if isinstance(source, np.ndarray):
        return _from_array(source, names, name or "video")
    if isinstance(source, Sequence):
        if len(source) == 0:
            raise InputError("empty list of frames; a video needs at least one frame")
        frames = []
        for i, f in enumerate(source):
            if isinstance(f, torch.Tensor):
                f = f.detach().cpu().numpy()
            if not isinstance(f, np.ndarray):
                raise InputError(f"frame {i} is a {type(f).__name__}; expected a numpy array H×W×3 uint8")
            frames.append(to_rgb_uint8(f, f"frame {i}"))
        return Video(arrays=frames, names=names, name=name or "video")
    raise InputError(
        f"cannot make a video from {type(source).__name__}; pass a folder, a video file, a list of H×W×3 uint8 "
        "arrays, or an array/tensor (T,H,W,3) or (T,3,H,W)"
    )
