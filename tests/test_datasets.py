"""Dataset readers: DAVIS and DAVSOD layouts, masks matched by stem (never by position), layout errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vsodboost.datasets import (SHARED_SETS, detect_layout, find_shared_data, read_dataset, read_davis,
                                read_davsod)
from vsodboost.errors import InputError

H, W = 16, 20


def _img(path: Path, value: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((H, W, 3), value, np.uint8))


def _mask(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.zeros((H, W), np.uint8)
    m[4:10, 5:12] = 255
    assert cv2.imwrite(str(path), m)


def make_davis(root: Path, seqs: dict[str, int], masks_every: int = 1) -> Path:
    for seq, n in seqs.items():
        for i in range(n):
            _img(root / "JPEGImages" / "480p" / seq / f"{i:05d}.jpg", 10 * i)
            if i % masks_every == 0:
                _mask(root / "Annotations" / "480p" / seq / f"{i:05d}.png")
    sets = root / "ImageSets" / "480p"
    sets.mkdir(parents=True)
    # official line format for train, bare names for val (both are accepted)
    (sets / "train.txt").write_text("".join(
        f"/JPEGImages/480p/seq10/{i:05d}.jpg /Annotations/480p/seq10/{i:05d}.png\n" for i in range(seqs["seq10"])))
    (sets / "val.txt").write_text("seq2\nseq1\n\n")
    return root


def make_davsod(root: Path, seqs: dict[str, list[str]], gt_every: int = 5, gt_dir: str = "ground-truth") -> Path:
    for seq, stems in seqs.items():
        for i, stem in enumerate(stems):
            _img(root / seq / "Imgs" / f"{stem}.jpg", 10 * i)
            if i % gt_every == 0:
                _mask(root / seq / gt_dir / f"{stem}.png")
    return root


VISAL_LIKE = {
    "cow": [f"cow4_frame{i:04d}" for i in range(1, 12)],
    "gokart": [f"gokart{i}" for i in range(56, 67)],  # gokart99 < gokart100 only in natural order
    "lion": [f"lion_image{i:03d}" for i in range(95, 106)],
}


# -- DAVIS ------------------------------------------------------------------------------------------------------
def test_read_davis_all_sequences(tmp_path):
    root = make_davis(tmp_path / "davis", {"seq10": 3, "seq2": 4, "seq1": 2})
    data = read_davis(root)
    assert [s.name for s in data] == ["seq1", "seq2", "seq10"]
    seq2 = data[1]
    assert seq2.stems == ["00000", "00001", "00002", "00003"]
    assert seq2.annotated == seq2.stems and seq2.gt["00003"].name == "00003.png"
    video = seq2.video()
    assert video.name == "seq2" and video.names == seq2.stems and video.size == (H, W)


def test_read_davis_splits_and_sequences(tmp_path):
    root = make_davis(tmp_path / "davis", {"seq10": 3, "seq2": 4, "seq1": 2})
    assert [s.name for s in read_davis(root, split="train")] == ["seq10"]
    assert [s.name for s in read_davis(root, split="val")] == ["seq2", "seq1"]  # split file order
    assert [s.name for s in read_davis(root, sequences=["seq10", "seq1"])] == ["seq10", "seq1"]
    with pytest.raises(InputError, match=r"sequences \['seq10'\] not found.*available: \['seq2', 'seq1'\]"):
        read_davis(root, split="val", sequences=["seq10"])
    with pytest.raises(InputError, match=r"split file .*test\.txt is missing; available splits: \['train', 'val'\]"):
        read_davis(root, split="test")


def test_read_davis_partial_annotations_and_missing_annotation_folder(tmp_path):
    root = make_davis(tmp_path / "davis", {"seq10": 6, "seq1": 2}, masks_every=3)
    seq10 = read_davis(root, sequences=["seq10"])[0]
    assert seq10.annotated == ["00000", "00003"]
    import shutil

    shutil.rmtree(root / "Annotations" / "480p" / "seq1")
    assert read_davis(root, sequences=["seq1"])[0].gt == {}


def test_read_davis_not_a_davis_root(tmp_path):
    with pytest.raises(InputError, match=r"not a DAVIS root: .*JPEGImages/480p is missing"):
        read_davis(tmp_path)


def test_orphan_mask_is_an_error(tmp_path):
    root = make_davis(tmp_path / "davis", {"seq10": 2, "seq1": 2})
    _mask(root / "Annotations" / "480p" / "seq1" / "00007.png")
    with pytest.raises(InputError, match=r"'seq1': 1 mask\(s\) have no frame.*00007\.png.*by file stem"):
        read_davis(root, sequences=["seq1"])


def test_frames_sharing_a_stem_is_an_error(tmp_path):
    root = make_davis(tmp_path / "davis", {"seq10": 2, "seq1": 2})
    _img(root / "JPEGImages" / "480p" / "seq1" / "00001.png")
    with pytest.raises(InputError, match="two frames share a stem"):
        read_davis(root, sequences=["seq1"])


# -- DAVSOD -----------------------------------------------------------------------------------------------------
def test_read_davsod_irregular_stems_matched_by_stem(tmp_path):
    root = make_davsod(tmp_path / "visal", VISAL_LIKE)
    (root / "README.txt").write_text("not a sequence")
    (root / "extras").mkdir()  # a folder without Imgs is not a sequence
    data = read_davsod(root)
    assert [s.name for s in data] == ["cow", "gokart", "lion"]
    for seq in data:
        stems = VISAL_LIKE[seq.name]
        assert seq.stems == stems  # natural order
        assert seq.annotated == stems[::5]  # every 5th frame, by stem
        assert all(seq.gt[s].stem == s for s in seq.annotated)
    assert data[0].video().names[0] == "cow4_frame0001"


def test_read_davsod_natural_order(tmp_path):
    stems = ["gokart98", "gokart99", "gokart100", "gokart101"]
    root = make_davsod(tmp_path / "d", {"gokart": stems[::-1]}, gt_every=2)
    seq = read_davsod(root)[0]
    assert seq.stems == stems
    assert set(seq.annotated) == {"gokart101", "gokart99"}  # written for reversed indices 0 and 2


def test_read_davsod_gt_folder_variants(tmp_path):
    root = make_davsod(tmp_path / "d", {"a": ["x1", "x2"]}, gt_every=1, gt_dir="GT")
    make_davsod(root, {"b": ["y1", "y2"]}, gt_every=1)
    (root / "c" / "Imgs").mkdir(parents=True)
    _img(root / "c" / "Imgs" / "z.png")
    data = {s.name: s for s in read_davsod(root)}
    assert data["a"].annotated == ["x1", "x2"] and data["b"].annotated == ["y1", "y2"]
    assert data["c"].gt == {} and data["c"].annotated == []


def test_read_davsod_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_davsod(tmp_path / "missing")
    (tmp_path / "plain" / "seq").mkdir(parents=True)
    with pytest.raises(InputError, match="no `<seq>/Imgs` folders"):
        read_davsod(tmp_path / "plain")
    root = make_davsod(tmp_path / "d", {"a": ["x1", "x2"]})
    with pytest.raises(InputError, match=r"\['b'\] not found.*available: \['a'\]"):
        read_davsod(root, sequences=["b"])
    (root / "e" / "Imgs").mkdir(parents=True)
    with pytest.raises(InputError, match="'e' has no frames"):
        read_davsod(root)


# -- layout detection and the data folder ---------------------------------------------------------------------------
def test_detect_layout_and_read_dataset(tmp_path):
    davis = make_davis(tmp_path / "davis", {"seq10": 2, "seq1": 2})
    davsod = make_davsod(tmp_path / "davsod", {"a": ["x1", "x2"]})
    assert detect_layout(davis) == "davis" and detect_layout(davsod) == "davsod"
    assert [s.name for s in read_dataset(davis, split="train")] == ["seq10"]
    assert [s.name for s in read_dataset(davsod)] == ["a"]
    assert [s.name for s in read_dataset(davsod, "davsod", sequences=["a"])] == ["a"]
    (tmp_path / "other" / "x").mkdir(parents=True)
    with pytest.raises(InputError, match="cannot tell the layout"):
        read_dataset(tmp_path / "other")
    with pytest.raises(InputError, match="unknown dataset layout 'coco'"):
        read_dataset(davis, "coco")


def test_find_shared_data_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("VSODBOOST_DATA", str(tmp_path))
    assert find_shared_data() == tmp_path
    monkeypatch.setenv("VSODBOOST_DATA", str(tmp_path / "missing"))
    assert find_shared_data() is None


# -- real data ---------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_davis2016(shared_data):
    root = shared_data / "DAVIS2016"
    val = read_davis(root, split="val")
    assert len(val) == 10 and "blackswan" in [s.name for s in val]
    assert sum(len(s.frames) for s in val) == 645
    assert all(s.annotated == s.stems for s in val)  # every DAVIS frame is annotated
    assert [s.name for s in read_davis(root, split="train")] == ["bear"]
    video = val[0].video()
    assert video.size == (480, 854) and video.names[:2] == ["00000", "00001"]


@pytest.mark.realdata
def test_real_visal(shared_data):
    data = read_dataset(shared_data / "ViSal")
    assert len(data) == 17
    assert sum(len(s.frames) for s in data) == 963 and sum(len(s.gt) for s in data) == 193
    by_name = {s.name: s for s in data}
    assert by_name["cow"].stems[0] == "cow4_frame0001"
    assert by_name["lion"].annotated[:2] == ["lion_image090", "lion_image095"]
    assert by_name["gokart"].stems[:2] == ["gokart56", "gokart57"]
    for seq in data:
        assert set(seq.gt) <= set(seq.stems)
        assert seq.annotated == [s for s in seq.stems if s in seq.gt]
    assert by_name["rider"].video().size == (288, 512)
    assert by_name["bird"].video().size == (240, 320)


def test_image_saliency_layout_ecssd_and_duts(tmp_path):
    """ECSSD (images/ + ground_truth_mask/) and DUTS (DUTS-TR-Image/ + DUTS-TR-Mask/) read as one sequence of
    image/mask pairs; detect_layout finds them; an image without a mask is an error naming it."""
    import cv2
    import numpy as np

    from vsodboost.datasets import detect_layout, read_dataset
    from vsodboost.errors import InputError

    for root, (img, gt) in {"ECSSD": ("images", "ground_truth_mask"), "DUTS-TR": ("DUTS-TR-Image", "DUTS-TR-Mask")}.items():
        for d in (img, gt):
            (tmp_path / root / d).mkdir(parents=True)
        for i in (2, 10, 1):
            cv2.imwrite(str(tmp_path / root / img / f"{i:04d}.jpg"), np.full((8, 8, 3), 9, np.uint8))
            cv2.imwrite(str(tmp_path / root / gt / f"{i:04d}.png"), np.zeros((8, 8), np.uint8))
        assert detect_layout(tmp_path / root) == "images"
        (seq,) = read_dataset(tmp_path / root)
        assert seq.name == root and seq.stems == ["0001", "0002", "0010"] and seq.annotated == seq.stems
    cv2.imwrite(str(tmp_path / "ECSSD" / "images" / "0099.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="0099.jpg"):
        read_dataset(tmp_path / "ECSSD", "images")


def test_in_sample_matches_by_gt_fingerprint_not_by_name_alone(tmp_path):
    import cv2
    import numpy as np

    from vsodboost.datasets import SequenceData, in_sample, trained_on_entry, trained_on_of

    def seq(name, value):
        d = tmp_path / f"{name}-{value}"
        d.mkdir()
        m = np.zeros((8, 8), np.uint8)
        m[2:5, 2:5] = value
        cv2.imwrite(str(d / "0.png"), m)
        return SequenceData(name, [d / "0.jpg"], {"0": d / "0.png"})

    boat_tr, boat_visal, renamed = seq("boat", 255), seq("boat", 128), seq("ship", 255)
    rec = [trained_on_entry("DAVIS2016-train", "boat", 1, boat_tr.fingerprint())]
    assert in_sample(rec, boat_tr)
    assert not in_sample(rec, boat_visal)          # a namesake with other GT
    assert in_sample(rec, renamed)                 # a renamed copy of a training sequence
    assert in_sample([{"sequence": "boat"}], boat_visal)  # an old record by name only: the name decides
    assert trained_on_of({"meta": {"data": {"trained_on": rec}}})[0] == rec
    assert trained_on_of({"trained_on": "DUTS-TR"}) == ([], "DUTS-TR")
    assert trained_on_of({"file": "x.pt"})[0] is None


@pytest.mark.realdata
@pytest.mark.parametrize("key", sorted(SHARED_SETS))
def test_each_shared_set_has_its_targets_maps_for_every_annotated_sequence(shared_data, key):
    s = SHARED_SETS[key]
    seqs = [q for q in read_dataset(s.root(shared_data), s.layout, split=s.split) if q.gt]
    maps = s.target_maps(shared_data)
    assert seqs and all((maps / q.name).is_dir() for q in seqs), (key, maps)
