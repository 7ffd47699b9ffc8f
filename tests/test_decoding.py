"""Issue 24: zero-byte and unreadable frames, maps and GT files are typed errors naming the file (in boost and eval);
maps of another aspect ratio are warned about; 16-bit maps holding 8-bit values and alpha-only cut-outs are read
for what they hold, not as flat maps; a frame iterator that raises inside Booster.stream keeps what arrived."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from conftest import tiny_booster, write_clip_and_maps
from test_eval_cli import make_davsod

import vsodboost.io as vio
from vsodboost import adapters
from vsodboost.runner import run_to_dir
from vsodboost.cli import main
from vsodboost.errors import InputError
from vsodboost.metrics.evaluate import evaluate_folders
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.video import load_video, read_image

N, H, W = 6, 48, 64


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=5)
    return np.stack(frames), target


def _disk(tmp_path, clip):
    seq, maps, _ = write_clip_and_maps(tmp_path, *clip)
    return seq, maps


def test_zero_byte_frame_is_a_typed_error_naming_it(clip, tmp_path):
    seq, maps = _disk(tmp_path, clip)
    (seq / "00002.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"cannot read frame .*00002.png: the file is empty \(0 bytes"):
        read_image(seq / "00002.png")
    with pytest.raises(InputError, match=r"00002.png: the file is empty"):
        run_to_dir(tiny_booster(adapters.precomputed(maps.parent), buffer_size=3), seq, tmp_path / "out")


def test_zero_byte_map_in_boost_names_the_map_file(clip, tmp_path, capsys):
    seq, maps = _disk(tmp_path, clip)
    (maps / "00004.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"cannot read saliency map .*maps/seq/00004.png: the file is empty"):
        run_to_dir(tiny_booster(adapters.precomputed(maps.parent), buffer_size=3), seq, tmp_path / "out")
    rc = main(["boost", str(seq), "--target", f"precomputed:{maps.parent}", "--out", str(tmp_path / "o2"), "-q",
               "--device", "cpu", "--spatial", "timm_unet", "--buffer-size", "3"])
    err = capsys.readouterr().err
    assert rc == 1 and "00004.png: the file is empty" in err and "Traceback" not in err


@pytest.mark.parametrize("which", ["pred", "gt"])
def test_zero_byte_map_or_gt_in_eval_names_the_file(tmp_path, which, capsys):
    gt_root, pred_root, _ = make_davsod(tmp_path, seqs=(("cat", 3),))
    f = (pred_root / "cat" / "cat_frame0001.png") if which == "pred" else \
        (gt_root / "cat" / "ground-truth" / "cat_frame0001.png")
    f.write_bytes(b"")
    with pytest.raises(InputError, match=r"cat_frame0001.png: the file is empty"):
        evaluate_folders(pred_root, gt_root, layout="davsod", progress=False)
    rc = main(["eval", "--pred", str(pred_root), "--gt", str(gt_root), "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "cat_frame0001.png: the file is empty" in err


def test_unreadable_map_names_the_file(tmp_path):
    p = tmp_path / "m.png"
    p.mkdir()  # a name that cannot be read as a file (permissions would not stop root)
    with pytest.raises(InputError, match=r"cannot read saliency map .*m.png: Is a directory"):
        vio.read_map(p)


def test_16bit_map_holding_8bit_values_is_read_as_those_values(tmp_path):
    v = np.array([[0, 10, 128, 200, 255, 255]], np.uint16).repeat(3, 0)
    cv2.imwrite(str(tmp_path / "low.png"), v)
    m, note = vio.read_map(tmp_path / "low.png")
    assert (m == v.astype(np.uint8)).all() and "8-bit values" in note  # was all zero: v >> 8
    rgb = np.stack([v, v, v], -1)
    cv2.imwrite(str(tmp_path / "low_rgb.png"), rgb)
    m, _ = vio.read_map(tmp_path / "low_rgb.png")
    assert (m == v.astype(np.uint8)).all()
    # a true 16-bit map keeps its high byte, as before (and as pysodmetrics reads it)
    cv2.imwrite(str(tmp_path / "deep.png"), v * 257)
    m, _ = vio.read_map(tmp_path / "deep.png")
    assert (m == v.astype(np.uint8)).all()


def test_alpha_only_cutout_is_read_from_its_alpha_channel(tmp_path):
    alpha = np.zeros((8, 8), np.uint8)
    alpha[2:6, 2:6] = 255
    cut = np.zeros((8, 8, 4), np.uint8)
    cut[:, :, 3] = alpha  # colour all black: IMREAD_GRAYSCALE gives an all-zero, "flat" map
    cv2.imwrite(str(tmp_path / "cut.png"), cut)
    m, note = vio.read_map(tmp_path / "cut.png")
    assert (m == alpha).all() and "alpha channel" in note
    # a map whose colour varies keeps its colour (alpha ignored, as before)
    rgba = np.dstack([np.tile(np.arange(8, dtype=np.uint8) * 30, (8, 1))] * 3 + [alpha])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    m, _ = vio.read_map(tmp_path / "rgba.png")
    assert (m == cv2.imread(str(tmp_path / "rgba.png"), cv2.IMREAD_GRAYSCALE)).all()


def test_maps_of_another_aspect_ratio_are_warned_about_in_boost(clip, tmp_path, caplog):
    seq, maps = _disk(tmp_path, clip)
    video = load_video(seq, name="seq")
    t = adapters.precomputed(maps.parent)
    with caplog.at_level(logging.WARNING, logger="vsodboost.target"):
        t.predict(video)
    assert not caplog.records  # same size: nothing to say
    cv2.imwrite(str(maps / "00001.png"), np.zeros((H, H), np.uint8))  # square map for 4:3 frames
    cv2.imwrite(str(maps / "00002.png"), np.zeros((H * 2, W * 2), np.uint8))  # same aspect, larger: fine
    with caplog.at_level(logging.WARNING, logger="vsodboost.target"):
        out = t.predict(video)
    assert out[1].shape == (H, W)  # still stretched to the frame, as eval does
    assert len(caplog.records) == 1
    msg = caplog.records[0].getMessage()
    assert "1 map(s) of 'seq' have another aspect ratio" in msg and f"00001.png ({H}×{H})" in msg


def test_a_frame_iterator_that_raises_keeps_what_arrived_and_says_where(clip):
    frames, target = clip

    def source():
        for i in range(5):
            yield frames[i]
        raise ConnectionError("camera unplugged")

    b = tiny_booster(ArrayTarget(target), buffer_size=3)
    got = []
    with pytest.raises(InputError, match=r"frame source raised ConnectionError: camera unplugged — after 5 "
                                         r"frame\(s\); buffer 1 \(frames 3…4, 2 gathered\) was boosted") as err:
        for buf in b.stream(source(), name="cam", buffer_size=3):
            got.append(buf)
    assert [(x.start, len(x.names)) for x in got] == [(0, 3), (3, 2)]  # the partial buffer was not lost
    assert isinstance(err.value.__cause__, ConnectionError)
