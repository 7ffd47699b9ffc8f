"""Readers for the dataset layouts the saliency field uses: two for video, one for still images.

- ``davis``: the official DAVIS layout, ``JPEGImages/480p/<seq>/*.jpg``, ``Annotations/480p/<seq>/*.png``,
  ``ImageSets/480p/{train,val}.txt`` (lines ``/JPEGImages/480p/<seq>/00000.jpg /Annotations/...``).
- ``davsod``: the DAVSOD-benchmark layout used by the SegTrack-v2, ViSal, DAVSOD and VOS releases,
  ``<seq>/Imgs/*.{jpg,png}`` and ``<seq>/ground-truth/*.png`` (sometimes ``GT``).
- ``images``: an image salient-object dataset, one folder of images and one of masks with the same stems: ECSSD
  (``images/``, ``ground_truth_mask/``), DUTS (``DUTS-TR-Image/``, ``DUTS-TR-Mask/``), HKU-IS/PASCAL-S style
  (``imgs/``/``Imgs/``, ``gt/``/``GT/``/``masks/``). Read as one "sequence" named after the root, every image
  annotated; used for saliency pretraining (``vsodboost train spatial --data ECSSD``).

Masks are matched to frames by stem, never by position (ViSal's stems are irregular and only every 5th frame is
annotated). A mask whose stem has no frame is reported as an error, since it means the dataset is broken.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from .errors import InputError
from ._decode import FRAME_DIRS, IMAGE_EXTS, natural_key
from .video import Video

__all__ = ["SequenceData", "SharedSet", "SHARED_SETS", "read_dataset", "read_davis", "read_davsod", "read_images", "detect_layout",
           "find_shared_data", "trained_on_entry", "in_sample", "trained_on_of"]

Layout = Literal["davis", "davsod", "images", "auto"]
_IMAGESET_IMG = ("images", "Images", "imgs", "Imgs", "image", "DUTS-TR-Image", "DUTS-TE-Image")
_IMAGESET_GT = ("ground_truth_mask", "masks", "mask", "gt", "GT", "ground-truth", "DUTS-TR-Mask", "DUTS-TE-Mask")
_GT_DIRS = ("ground-truth", "GT", "gt", "ground_truth")
_IMG_DIRS = FRAME_DIRS[:4]  # the DAVSOD layout's: Imgs, imgs, Images, JPEGImages


@dataclass
class SequenceData:
    """One sequence: its frames (natural order) and the GT masks that exist, by frame stem."""

    name: str
    frames: list[Path]
    gt: dict[str, Path] = field(default_factory=dict)

    @property
    def stems(self) -> list[str]:
        return [f.stem for f in self.frames]

    @property
    def annotated(self) -> list[str]:
        """Stems of annotated frames, in frame order."""
        return [s for s in self.stems if s in self.gt]

    def video(self) -> Video:
        return Video(paths=self.frames, name=self.name)

    def fingerprint(self) -> str:
        """sha256 of the decoded pixels of the first, middle and last annotated masks ("" without GT): tells two
        sequences of one name apart (DAVIS-TR's ``boat`` is not ViSal's) and finds a renamed copy of a training
        sequence, whatever the file format or path of the masks."""
        stems = self.annotated or sorted(self.gt, key=natural_key)
        if not stems:
            return ""
        from .io import read_map

        h = hashlib.sha256()
        for stem in dict.fromkeys((stems[0], stems[len(stems) // 2], stems[-1])):
            mask, _ = read_map(self.gt[stem])
            h.update(repr(mask.shape).encode() + mask.tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"SequenceData({self.name!r}, frames={len(self.frames)}, gt={len(self.gt)})"


def _images(folder: Path) -> list[Path]:
    return sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS),
                  key=lambda f: natural_key(f.name))


def _pair(name: str, frames: list[Path], masks: list[Path]) -> SequenceData:
    if not frames:
        raise InputError(f"sequence {name!r} has no frames")
    stems = {f.stem for f in frames}
    if len(stems) != len(frames):
        raise InputError(f"sequence {name!r}: two frames share a stem (e.g. 00001.jpg and 00001.png)")
    gt: dict[str, Path] = {}
    orphans = []
    for m in masks:
        if m.stem in stems:
            gt[m.stem] = m
        else:
            orphans.append(m.name)
    if orphans:
        raise InputError(
            f"sequence {name!r}: {len(orphans)} mask(s) have no frame with the same stem, e.g. {orphans[:3]}; "
            "masks are matched to frames by file stem"
        )
    return SequenceData(name, frames, gt)


def _select(names: list[str], sequences: Iterable[str] | None, root: Path) -> list[str]:
    if sequences is None:
        return names
    wanted = list(sequences)
    missing = [s for s in wanted if s not in names]
    if missing:
        raise InputError(f"sequences {missing} not found under {root}; available: {names}")
    return wanted


def read_davis(
    root: str | os.PathLike[str],
    *,
    split: str | None = None,
    resolution: str = "480p",
    sequences: Iterable[str] | None = None,
) -> list[SequenceData]:
    """Read a DAVIS-layout dataset; ``split`` selects ``ImageSets/<res>/<split>.txt`` (None: all sequences)."""
    root = Path(root)
    img_root, ann_root = root / "JPEGImages" / resolution, root / "Annotations" / resolution
    if not img_root.is_dir():
        raise InputError(f"{root} is not a DAVIS root: {img_root} is missing")
    names = sorted((d.name for d in img_root.iterdir() if d.is_dir()), key=natural_key)
    if split is not None:
        listing = root / "ImageSets" / resolution / f"{split}.txt"
        if not listing.is_file():
            raise InputError(f"split file {listing} is missing; available splits: "
                             f"{sorted(p.stem for p in listing.parent.glob('*.txt'))}")
        in_split: list[str] = []
        for line in listing.read_text().split("\n"):
            tok = line.strip().split()
            if not tok:
                continue
            # either "/JPEGImages/480p/<seq>/00000.jpg /Annotations/..." or a bare sequence name per line
            seq = Path(tok[0]).parent.name if "/" in tok[0] else tok[0]
            if seq not in in_split:
                in_split.append(seq)
        names = [n for n in in_split if n in names]
    out = []
    for n in _select(names, sequences, root):
        masks = _images(ann_root / n) if (ann_root / n).is_dir() else []
        out.append(_pair(n, _images(img_root / n), masks))
    return out


def _subdir(seq_dir: Path, options: tuple[str, ...]) -> Path | None:
    return next((seq_dir / o for o in options if (seq_dir / o).is_dir()), None)


def read_davsod(root: str | os.PathLike[str], *, sequences: Iterable[str] | None = None) -> list[SequenceData]:
    """Read a DAVSOD-benchmark-layout dataset (``<seq>/Imgs``, ``<seq>/ground-truth``)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset root {root} does not exist")
    names = sorted((d.name for d in root.iterdir() if d.is_dir() and _subdir(d, _IMG_DIRS)), key=natural_key)
    if not names:
        raise InputError(f"{root} has no `<seq>/Imgs` folders; is it a DAVSOD-layout dataset?")
    out = []
    for n in _select(names, sequences, root):
        img_dir = _subdir(root / n, _IMG_DIRS)
        gt_dir = _subdir(root / n, _GT_DIRS)
        out.append(_pair(n, _images(img_dir), _images(gt_dir) if gt_dir else []))  # type: ignore[arg-type]
    return out


def read_images(root: str | os.PathLike[str]) -> list[SequenceData]:
    """Read an image saliency dataset (``images`` layout): one :class:`SequenceData`, every image with its mask.
    Images without a mask are an error here: pretraining needs every pair."""
    root = Path(root)
    img_dir, gt_dir = _subdir(root, _IMAGESET_IMG), _subdir(root, _IMAGESET_GT)
    if img_dir is None or gt_dir is None:
        raise InputError(f"{root} is not an image saliency dataset: expected an image folder (one of "
                         f"{list(_IMAGESET_IMG)}) and a mask folder (one of {list(_IMAGESET_GT)}) with the same stems")
    seq = _pair(root.name, _images(img_dir), _images(gt_dir))
    unpaired = [f.name for f in seq.frames if f.stem not in seq.gt]
    if unpaired:
        raise InputError(f"{root}: {len(unpaired)} image(s) have no mask in {gt_dir.name}/, e.g. {unpaired[:3]}")
    return [seq]


def detect_layout(root: str | os.PathLike[str]) -> str:
    root = Path(root)
    if (root / "JPEGImages").is_dir():
        return "davis"
    if root.is_dir() and any(_subdir(d, _IMG_DIRS) for d in root.iterdir() if d.is_dir()):
        return "davsod"
    if root.is_dir() and _subdir(root, _IMAGESET_IMG) and _subdir(root, _IMAGESET_GT):
        return "images"
    raise InputError(
        f"cannot tell the layout of {root}: expected DAVIS (JPEGImages/480p/<seq>), DAVSOD (<seq>/Imgs) or an "
        "image saliency set (images/ + ground_truth_mask/, as ECSSD)"
    )


def read_dataset(
    root: str | os.PathLike[str],
    layout: Layout = "auto",
    *,
    split: str | None = None,
    sequences: Iterable[str] | None = None,
) -> list[SequenceData]:
    """Read ``root`` in the given layout (``auto`` detects it)."""
    if layout == "auto":
        layout = detect_layout(root)  # type: ignore[assignment]
    if layout == "davis":
        return read_davis(root, split=split, sequences=sequences)
    if layout == "davsod":
        return read_davsod(root, sequences=sequences)
    if layout == "images":
        return read_images(root)
    raise InputError(f"unknown dataset layout {layout!r}; expected 'davis', 'davsod', 'images' or 'auto'")


def find_shared_data() -> Path | None:
    """The real-data folder: ``$VSODBOOST_DATA``, else ``../shared/data`` beside the checkout or the cwd."""
    env = os.environ.get("VSODBOOST_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    here = Path(__file__).resolve().parent.parent
    for base in (here, Path.cwd()):
        p = base.parent / "shared" / "data"
        if p.is_dir():
            return p
    return None


@dataclass(frozen=True)
class SharedSet:
    """A dataset of the shared data folder (:func:`find_shared_data`) with the method whose published maps are its
    target in every number of docs/: ``<data>/<folder>`` read with ``layout`` (``split``: the scored DAVIS split),
    the target's maps in ``<data>/results/<method>/<folder>``."""

    folder: str
    layout: str
    split: str | None
    method: str

    def root(self, data: str | os.PathLike[str]) -> Path:
        return Path(data) / self.folder

    def target_maps(self, data: str | os.PathLike[str]) -> Path:
        return Path(data) / "results" / self.method / self.folder


#: The one record of which target goes with which shared dataset: PDB on DAVIS-2016, MGA on ViSal.
SHARED_SETS: dict[str, SharedSet] = {"davis": SharedSet("DAVIS2016", "davis", "val", "PDB"),
                                     "visal": SharedSet("ViSal", "davsod", None, "MGA")}


def trained_on_entry(dataset: str, sequence: str, frames: int, fingerprint: str) -> dict[str, Any]:
    """What a checkpoint records of one training sequence (``meta["trained_on"]``): the dataset's folder name, the
    sequence name, how many annotated frames were used and the GT :meth:`~SequenceData.fingerprint`."""
    return {"dataset": dataset, "sequence": sequence, "frames": frames, "gt_fingerprint": fingerprint}


def in_sample(trained_on: Iterable[Mapping[str, Any]], seq: SequenceData, fingerprint: str | None = None) -> bool:
    """Whether ``seq`` was among a model's training sequences (``meta["trained_on"]`` entries).

    A match is the same GT fingerprint (a renamed copy is caught), or the same name where either side has no
    fingerprint (older records; sequences without GT). Two sequences that only share a name (DAVIS-TR ``boat``,
    ViSal ``boat``) are different sequences. ``fingerprint`` may pass ``seq.fingerprint()`` computed once.
    """
    fp = seq.fingerprint() if fingerprint is None else fingerprint
    for e in trained_on:
        efp = str(e.get("gt_fingerprint") or "")
        if fp and efp:
            if efp == fp:
                return True
        elif e.get("sequence") == seq.name:
            return True
    return False


def trained_on_of(provenance: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """The training sequences a loaded model's ``provenance`` records, and a one-line description of its data.

    Returns ``(entries, description)``; ``entries`` is None when the checkpoint does not say which sequences it
    saw (then nothing can be checked), ``[]`` when it saw no video sequence (e.g. U²-Net-p: DUTS-TR images).
    Understood: ``meta["data"]["trained_on"]`` (MQPM checkpoints), ``trained_on`` (U-Net checkpoints from
    ``pretrain_spatial``: entries; converted weights: a description of image data), ``sequences`` (older U-Net
    checkpoints: names only). A model made of two networks (an MQPM with an HQ network: ``provenance["hq"]``) saw
    what either saw: the entries are joined, and None when either does not say.
    """
    if isinstance(provenance, Mapping) and isinstance(provenance.get("hq"), Mapping):
        first, desc = trained_on_of({k: v for k, v in provenance.items() if k != "hq"})
        second, hq_desc = trained_on_of(provenance["hq"])
        entries = None if first is None or second is None else first + [e for e in second if e not in first]
        return entries, desc if hq_desc == desc else f"{desc}; its HQ network: {hq_desc}"
    if not isinstance(provenance, Mapping):
        return None, "no provenance"
    meta = provenance.get("meta") if isinstance(provenance.get("meta"), Mapping) else {}
    data = meta.get("data") if isinstance(meta.get("data"), Mapping) else {}
    for source in (data, meta, provenance):
        rec = source.get("trained_on")
        if isinstance(rec, list):
            entries = [dict(e) for e in rec if isinstance(e, Mapping)]
            sets = sorted({str(e.get("dataset", "?")) for e in entries})
            return entries, f"{len(entries)} sequence(s) of {', '.join(sets) or 'no dataset'}"
        if isinstance(rec, str):
            return [], rec
    for source in (meta, provenance):
        names = source.get("sequences")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return [{"sequence": n} for n in names], f"{len(names)} sequence(s), by name only"
    if "note" in provenance:  # an ImageNet encoder with a fresh decoder: no saliency data at all
        return [], str(provenance["note"])
    return None, "does not record its training sequences"
