"""One reader for saliency maps, one writer for files (vsodboost.io): 16-bit and colour maps are read the same way
for boosting and for scoring; every writer is atomic and leaves nothing behind."""

from __future__ import annotations

import importlib
import json

import cv2
import numpy as np
import pytest
import torch

import vsodboost.io as vio
from vsodboost import adapters
from vsodboost.errors import InputError, OutputError

# both packages also have a function of the module's name
evaluate = importlib.import_module("vsodboost.metrics.evaluate")
precomputed = importlib.import_module("vsodboost.adapters.precomputed")


def test_one_reader_one_ext_list_one_indexer():
    assert evaluate.read_map is vio.read_map and precomputed._read_map is vio.read_map
    assert evaluate.MAP_EXTS is vio.MAP_EXTS and precomputed.MAP_EXTS is vio.MAP_EXTS


def test_the_old_homes_of_the_readers_answer_for_a_release_with_a_warning():
    import vsodboost.metrics as metrics

    with pytest.warns(DeprecationWarning, match="import read_map from vsodboost.io"):
        assert metrics.read_map is vio.read_map
    for old in (adapters, precomputed):  # the float reader of the maps-mode targets: io.read_unit_map now
        with pytest.warns(DeprecationWarning, match="import read_unit_map from vsodboost.io"):
            assert old.read_map is vio.read_unit_map


def test_a_16bit_map_keeps_its_high_byte_for_the_booster_and_for_scoring(tmp_path):
    v = np.array([[0, 255, 256, 383, 384, 511, 32767, 32768, 65280, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), np.repeat(v, 3, axis=0))
    m, note = vio.read_map(tmp_path / "deep.png")
    want = np.array([0, 0, 1, 1, 1, 1, 127, 128, 255, 255], np.uint8)  # v >> 8, not round(v / 257) (511 → 2)
    assert m.dtype == np.uint8 and (m == want).all() and "uint16" in note
    assert (m == cv2.imread(str(tmp_path / "deep.png"), cv2.IMREAD_GRAYSCALE)).all()  # pysodmetrics' reading
    boosted_from = vio.read_unit_map(tmp_path / "deep.png", normalize=False)
    np.testing.assert_array_equal(boosted_from, want[None].repeat(3, 0) / np.float32(255))


def test_colour_and_truncated_maps(tmp_path):
    ramp = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (4, 1))
    cv2.imwrite(str(tmp_path / "rgb.png"), np.dstack([ramp] * 3))
    m, note = vio.read_map(tmp_path / "rgb.png")
    assert (m == ramp).all() and "3-channel" in note
    data = (tmp_path / "rgb.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) - 20])
    with pytest.raises(InputError, match=r"cannot read saliency map .*cut\.png: a PNG without its IEND chunk"):
        vio.read_map(tmp_path / "cut.png")


def test_index_maps_prefers_the_first_extension_and_strips_prefix_and_suffix(tmp_path):
    for name in ("a.jpg", "a.png", "b.BMP", "bird_c_sal.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert {k: p.name for k, p in vio.index_maps(tmp_path).items()} == {
        "a": "a.png", "b": "b.BMP", "bird_c_sal": "bird_c_sal.png"}
    assert {k: p.name for k, p in vio.index_maps(tmp_path, (".jpg", ".png")).items()}["a"] == "a.jpg"
    assert list(vio.index_maps(tmp_path, prefix="bird_", suffix="_sal")) == ["c"]


def test_atomic_write_streams_checks_and_leaves_no_temporary(tmp_path):
    dest = tmp_path / "w.pt"
    vio.atomic_write(dest, lambda f: torch.save({"x": torch.arange(3)}, f))
    assert torch.equal(torch.load(dest, weights_only=True)["x"], torch.arange(3))

    def refuse(tmp):
        assert tmp.read_bytes() == b"new" and tmp.name.endswith(vio.TMP_SUFFIX)
        raise ValueError("checksum differs")

    with pytest.raises(ValueError, match="checksum differs"):
        vio.atomic_write(dest, lambda f: f.write(b"new"), verify=refuse)
    assert torch.load(dest, weights_only=True)["x"].tolist() == [0, 1, 2]
    with pytest.raises(OutputError, match=r"cannot write .*nowhere"):
        vio.atomic_write(tmp_path / "nowhere" / "x", lambda f: f.write(b""))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


def test_link_or_copy_mirrors_and_replaces(tmp_path):
    src = tmp_path / "src.png"
    src.write_bytes(b"published")
    (tmp_path / "dst.png").write_bytes(b"old")
    vio.atomic_link_or_copy(src, tmp_path / "dst.png")
    assert (tmp_path / "dst.png").read_bytes() == b"published"
    assert not list(tmp_path.glob("*" + vio.TMP_SUFFIX))


def test_no_nan_makes_strict_json():
    got = vio.no_nan({"a": float("nan"), "b": [1.0, (np.float64("nan"), 2)], "c": "x"})
    assert json.dumps(got, allow_nan=False) == '{"a": null, "b": [1.0, [null, 2]], "c": "x"}'
