"""Maps mode: a target that reads a method's published saliency maps from disk."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vsodboost._checks import check_bool
from vsodboost.errors import InputError, MissingMapsError
from vsodboost._deprecated import moved_names
from vsodboost.io import MAP_EXTS, index_maps, map_to_unit
from vsodboost.io import read_map as _read_map  # private: `read_map` here was the float reader (below)
from vsodboost._decode import natural_key
from vsodboost.video import Video

__all__ = ["PrecomputedTarget"]

# the float reader has one home beside the uint8 one; this alias goes in the next release
__getattr__ = moved_names(__name__, {"read_map": "vsodboost.io:read_unit_map"})


_log = logging.getLogger("vsodboost.target")


class PrecomputedTarget:
    """Reads ``<root>/<seq>/<prefix><stem><suffix>.<png|jpg|bmp>`` for each frame, matched by stem.

    The sequence folder is ``sequence`` if given, else ``video.name``; when ``<root>/<seq>`` is absent, a unique
    ``<root>/<dataset>/<seq>`` is used (published results are often grouped by dataset), and when ``root`` itself
    holds maps it is used directly. Frames without a map get ``None`` (never a zero map). Maps are resized to the
    frame size (bilinear) and min-max normalised per frame.

    ``match="stem"`` (default) pairs a map with the frame of the same stem; ``match="order"`` pairs the k-th map
    (natural sort of the names) with the k-th frame of the sequence, for maps named unlike the frames (e.g. frames
    ``00000…`` of a video file, maps ``bird_frame0021…``); it needs as many maps as frames (:class:`InputError`
    otherwise).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        sequence: str | None = None,
        prefix: str = "",
        suffix: str = "",
        exts: Sequence[str] = MAP_EXTS,
        normalize: bool = True,
        name: str = "precomputed",
        hint: str = "",
        match: str = "stem",
    ) -> None:
        if match not in ("stem", "order"):
            raise InputError(f"{name}: match must be 'stem' (map and frame share a file stem) or 'order' (k-th map "
                             f"↔ k-th frame), got {match!r}")
        self.match = match
        for key, value in (("prefix", prefix), ("suffix", suffix), ("name", name), ("hint", hint)):
            if not isinstance(value, str):
                raise InputError(f"{name}: {key} must be a string, got {value!r} ({type(value).__name__})")
        if sequence is not None and not isinstance(sequence, str):
            raise InputError(f"{name}: sequence must be a string or None, got {sequence!r} ({type(sequence).__name__})")
        if isinstance(exts, str) or not all(isinstance(e, str) and e for e in exts):
            raise InputError(f"{name}: exts must be a list of extensions such as ['.png', '.jpg'], got {exts!r}")
        check_bool(f"{name}: normalize", normalize)  # normalize='no' would be truthy: the opposite of what was asked
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise MissingMapsError(f"maps folder {self.root} does not exist" + (f"; {hint}" if hint else ""))
        self.sequence = sequence
        self.prefix, self.suffix = prefix, suffix
        self.exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in exts)
        self.normalize = normalize
        self.name = name
        self.hint = hint

    def sequence_dir(self, seq: str) -> Path:
        direct = self.root / seq
        if direct.is_dir():
            return direct
        nested = [d / seq for d in self.root.iterdir() if d.is_dir() and (d / seq).is_dir()]
        if len(nested) == 1:
            return nested[0]
        if len(nested) > 1:
            raise InputError(f"{self.name}: sequence {seq!r} exists under several dataset folders of {self.root}: "
                             f"{[str(n.parent.name) for n in nested]}; pass root=<one of them>")
        if any(f.suffix.lower() in self.exts for f in self.root.iterdir() if f.is_file()):
            return self.root
        if self.sequence is not None:
            how = f"the target's sequence={seq!r} option (--target-arg sequence=NAME) names it"
        else:  # the name the video got: the usual surprise (a file's stem, "video" for arrays)
            how = ("it is the video's name (a folder's name, a video file's stem, 'video' for arrays): "
                   "change it with --name NAME (boost, stream, export) or name= in Python, or give the "
                   "target sequence=NAME")
        raise MissingMapsError(
            f"{self.name}: no maps for sequence {seq!r}: expected a folder {direct} (or "
            f"<root>/<dataset>/{seq}); {seq!r} is the sequence looked up: {how}"
            + (f"; {self.hint}" if self.hint else "")
        )

    def map_files(self, sequence: str) -> dict[str, Path]:
        """Frame stem → map file of ``sequence`` (by stem, after ``prefix``/``suffix``; the first of ``exts`` wins)."""
        return self._index(self.sequence_dir(sequence))

    def _index(self, folder: Path) -> dict[str, Path]:
        return index_maps(folder, self.exts, prefix=self.prefix, suffix=self.suffix)

    def _frame_index(self, video: Video) -> dict[str, Path]:
        """Frame name → map file, by stem or (``match="order"``) by position in the whole sequence."""
        folder = self.sequence_dir(self.sequence or video.name)
        index = self._index(folder)
        if self.match == "stem":
            return index
        frames = list(getattr(video, "sequence_names", None) or video.names)  # a buffer knows its sequence's frames
        if len(index) != len(frames):
            raise InputError(f"{self.name}: match='order' pairs maps with frames by position, but {folder} holds "
                             f"{len(index)} maps for {len(frames)} frames of {video.name!r}; use match='stem' "
                             "(the default) or a folder with one map per frame")
        return dict(zip(frames, (index[k] for k in sorted(index, key=natural_key))))

    def coverage(self, video: Video) -> list[bool]:
        index = self._frame_index(video)
        return [n in index for n in video.names]

    def predict(self, video: Video) -> list[np.ndarray | None]:
        index = self._frame_index(video)
        out: list[np.ndarray | None] = []
        odd: list[str] = []
        h, w = video.size
        for n in video.names:
            if n not in index:
                out.append(None)
                continue
            img = _read_map(index[n])[0]
            mh, mw = img.shape[:2]
            if abs(mh * w / mw - h) > max(2.0, 0.02 * h):  # another aspect ratio: stretched, so say it
                odd.append(f"{index[n].name} ({mw}×{mh})")
            out.append(map_to_unit(img, video.size, normalize=self.normalize))
        if odd:
            _log.warning("%s: %d map(s) of %r have another aspect ratio than its %d×%d frames and are stretched to "
                         "them, e.g. %s; check that the maps belong to these frames", self.name, len(odd),
                         video.name, w, h, ", ".join(odd[:3]))
        return out

    def explain_no_match(self, video: Video) -> str:
        """Why no map matched a frame of ``video``: counts and two example names of each side, and the fix."""
        folder = self.sequence_dir(self.sequence or video.name)
        maps = sorted(self._index(folder), key=natural_key)
        frames = list(getattr(video, "sequence_names", None) or video.names)
        if not maps:
            return (f"{folder} holds no map files ({', '.join(self.exts)})"
                    + (f" with prefix {self.prefix!r}" if self.prefix else "")
                    + (f" and suffix {self.suffix!r}" if self.suffix else ""))
        text = (f"{len(frames)} frames (e.g. {', '.join(map(repr, frames[:2]))}) and {len(maps)} maps in {folder} "
                f"(stems after prefix/suffix, e.g. {', '.join(map(repr, maps[:2]))}) share no name")
        if len(frames) == len(maps):
            return text + "; the counts agree: pair them by order with match='order'"
        return text + "; rename the maps (or set prefix=/suffix=) so their stems are the frame names"

    def identity(self) -> dict[str, Any]:
        """What makes two instances read the same maps (the Booster's resume key records it)."""
        ident = {"type": "precomputed", "root": str(self.root.resolve()), "sequence": self.sequence,
                 "prefix": self.prefix, "suffix": self.suffix, "exts": list(self.exts), "normalize": self.normalize}
        if self.match != "stem":  # absent by default: folders written before `match` existed still resume
            ident["match"] = self.match
        return ident

    def __repr__(self) -> str:
        return f"PrecomputedTarget(name={self.name!r}, root={str(self.root)!r})"
