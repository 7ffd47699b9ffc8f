"""Video input: every accepted form becomes one Video with frame names; every bad input is a typed error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vsodboost.errors import InputError
from vsodboost.video import Video, load_video, natural_key, read_image

H, W = 24, 32


def _frames(n=4, h=H, w=W, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _write(folder: Path, frames, stems, ext=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for f, s in zip(frames, stems):
        assert cv2.imwrite(str(folder / f"{s}{ext}"), f[:, :, ::-1] if f.ndim == 3 and f.shape[2] == 3 else f)


# -- accepted forms --------------------------------------------------------------------------------------------
def test_folder_natural_sort_names_and_rgb_order(tmp_path):
    frames = _frames(4)
    stems = ["frame10", "frame2", "frame1", "frame9"]  # lexicographic order would be 1, 10, 2, 9
    _write(tmp_path / "dance", frames, stems)
    (tmp_path / "dance" / "notes.txt").write_text("not a frame")
    video = load_video(tmp_path / "dance")
    assert video.names == ["frame1", "frame2", "frame9", "frame10"]
    assert video.name == "dance" and len(video) == 4 and video.size == (H, W)
    np.testing.assert_array_equal(video[0], frames[2])  # PNG is lossless and channels come back RGB
    np.testing.assert_array_equal(video[-1], frames[0])
    assert video[1].dtype == np.uint8 and video[1].shape == (H, W, 3)


def test_folder_named_imgs_takes_the_sequence_name(clip_factory):
    folder, frames = clip_factory(seq="bird/Imgs", n=3)
    video = load_video(folder)
    assert video.name == "bird" and video.names == ["00000", "00001", "00002"]
    assert load_video(folder, name="custom").name == "custom"
    # the moving square of frame 2 (RGB 230, 200, 40) is where it was drawn, in RGB order (JPEG: small error)
    assert np.abs(video[2][22, 14].astype(int) - frames[2][22, 14]).max() < 25
    assert tuple(frames[2][22, 14]) == (230, 200, 40)


def test_natural_key():
    assert sorted(["a10", "a9", "A1", "b"], key=natural_key) == ["A1", "a9", "a10", "b"]
    assert sorted(["lion_image090", "lion_image1000", "lion_image100"], key=natural_key) == [
        "lion_image090", "lion_image100", "lion_image1000"]


def test_video_file(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    assert writer.isOpened()
    for i in range(5):
        writer.write(np.full((H, W, 3), (10, 60 + 30 * i, 200), np.uint8))  # BGR on disk
    writer.release()
    video = load_video(path)
    assert len(video) == 5 and video.name == "clip" and video.names == [f"{i:05d}" for i in range(5)]
    assert video.size == (H, W)
    # RGB order and the right frame, also on random access (backwards and forwards)
    for i in (4, 0, 3, 1):
        px = video[i][H // 2, W // 2].astype(int)
        assert abs(px[0] - 200) < 12 and abs(px[2] - 10) < 12 and abs(px[1] - (60 + 30 * i)) < 12


def test_list_of_arrays_with_names():
    frames = _frames(3)
    video = load_video(frames, names=["a", "b", "c"], name="mem")
    assert video.names == ["a", "b", "c"] and video.name == "mem" and video.source == "memory"
    np.testing.assert_array_equal(video[1], frames[1])


def test_default_names_are_zero_padded_indices():
    assert load_video(_frames(3)).names == ["00000", "00001", "00002"]


@pytest.mark.parametrize("layout", ["thwc", "tchw"])
@pytest.mark.parametrize("kind", ["uint8", "float32", "float64", "float16", "bfloat16"])
def test_tensor_forms(layout, kind):
    ref = np.stack(_frames(3))  # (T,H,W,3) uint8
    t = torch.from_numpy(ref)
    if kind != "uint8":
        t = (t.double() / 255.0).to(getattr(torch, kind))
    if layout == "tchw":
        t = t.permute(0, 3, 1, 2)
    video = load_video(t)
    assert len(video) == 3 and video.size == (H, W)
    tol = {"uint8": 0, "float32": 0, "float64": 0, "float16": 1, "bfloat16": 2}[kind]
    assert np.abs(video[2].astype(int) - ref[2]).max() <= tol


def test_numpy_float_array_and_tensor_roundtrip():
    ref = np.stack(_frames(2))
    video = load_video(ref.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(video[0], ref[0])
    t = video.tensor()
    assert t.shape == (2, 3, H, W) and t.dtype == torch.uint8
    np.testing.assert_array_equal(t[1].permute(1, 2, 0).numpy(), ref[1])
    assert video.tensor(1, 2).shape == (1, 3, H, W)


def test_video_passthrough_slicing_and_buffers():
    video = load_video(_frames(5), names=list("abcde"), name="v")
    assert load_video(video) is video
    sub = video[1:4]
    assert isinstance(sub, Video) and sub.names == ["b", "c", "d"] and sub.name == "v"
    np.testing.assert_array_equal(sub[0], video[1])
    assert list(video.buffers(2)) == [(0, 2), (2, 4), (4, 5)]
    assert list(video.buffers(10)) == [(0, 5)]
    with pytest.raises(InputError, match="buffer size"):
        list(video.buffers(0))
    with pytest.raises(IndexError, match="frame index 5 out of range"):
        video[5]
    assert [f.shape for f in video] == [(H, W, 3)] * 5


# -- documented conversions ------------------------------------------------------------------------------------
def test_grayscale_frames_are_replicated(tmp_path):
    gray = [f[:, :, 0] for f in _frames(2)]
    video = load_video(gray)
    assert video[0].shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(video[1][:, :, c], gray[1])
    _write(tmp_path / "g", gray, ["0", "1"])
    from_disk = load_video(tmp_path / "g")
    np.testing.assert_array_equal(from_disk[0][:, :, 2], gray[0])


def test_rgba_alpha_is_dropped(tmp_path):
    rgb = _frames(2)
    rgba = [np.dstack([f, np.full((H, W), 7, np.uint8)]) for f in rgb]
    video = load_video(rgba)
    np.testing.assert_array_equal(video[0], rgb[0])
    folder = tmp_path / "rgba"
    folder.mkdir()
    for i, f in enumerate(rgba):  # BGRA on disk
        cv2.imwrite(str(folder / f"{i}.png"), np.dstack([f[:, :, 2::-1], f[:, :, 3]]))
    np.testing.assert_array_equal(load_video(folder)[1], rgb[1])


def test_16bit_frames_are_scaled(tmp_path):
    rgb = _frames(2)
    deep = [f.astype(np.uint16) * 257 for f in rgb]
    np.testing.assert_array_equal(load_video(deep)[0], rgb[0])
    folder = tmp_path / "deep"
    folder.mkdir()
    for i, f in enumerate(deep):
        cv2.imwrite(str(folder / f"{i}.png"), f[:, :, ::-1])
    img = read_image(folder / "1.png")
    assert img.dtype == np.uint8
    np.testing.assert_array_equal(img, rgb[1])


# -- bad input -------------------------------------------------------------------------------------------------
def test_empty_inputs(tmp_path):
    with pytest.raises(InputError, match="empty list"):
        load_video([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no frames"):
        load_video(tmp_path / "empty")
    with pytest.raises(InputError, match="no frames"):
        load_video(np.zeros((0, H, W, 3), np.uint8))


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_video(tmp_path / "nope")


def test_single_frame_where_a_video_is_needed(tmp_path):
    frame = _frames(1)[0]
    with pytest.raises(InputError, match="leading time axis"):
        load_video(frame)
    with pytest.raises(InputError, match="leading time axis"):
        load_video(torch.from_numpy(frame))
    cv2.imwrite(str(tmp_path / "one.png"), frame)
    with pytest.raises(InputError, match="single image"):
        load_video(tmp_path / "one.png")


def test_frames_of_different_sizes_in_memory_fail_at_load():
    frames = _frames(2) + _frames(1, h=H + 2)
    with pytest.raises(InputError, match=r"frame '00002'.*same size"):
        load_video(frames)


def test_frames_of_different_sizes_on_disk_fail_naming_the_frame(tmp_path):
    _write(tmp_path / "mixed", _frames(2), ["00000", "00001"])
    _write(tmp_path / "mixed", _frames(1, w=W + 4), ["00002"])
    video = load_video(tmp_path / "mixed")
    with pytest.raises(InputError, match=r"frame '00002' is 36×24 but the first frame is 32×24"):
        list(video)


def test_unreadable_frame_file(tmp_path):
    folder = tmp_path / "corrupt"
    _write(folder, _frames(2), ["00000", "00001"])
    (folder / "00002.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    video = load_video(folder)
    with pytest.raises(InputError, match=r"cannot read .*00002\.jpg"):
        video[2]
    (folder / "00000.png").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"cannot read .*00000\.png"):
        load_video(folder)  # the first frame is read at once to learn the size
    with pytest.raises(InputError, match="does not exist"):
        read_image(folder / "missing.png")


def test_unreadable_video_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="broken.mp4"):
        load_video(bad)


@pytest.mark.parametrize(
    "frames,match",
    [
        ([np.zeros((H, W, 3), np.int64)] * 2, "unsupported frame dtype int64"),
        ([np.full((H, W, 3), 1.5, np.float32)] * 2, r"float frames must lie in \[0, 1\]"),
        ([np.full((H, W, 3), -0.1, np.float32)] * 2, r"float frames must lie in \[0, 1\]"),
        ([np.full((H, W, 3), np.nan, np.float32)] * 2, "NaN"),
        ([np.zeros((H, W, 5), np.uint8)] * 2, "expected a frame H×W×3"),
        ([np.zeros((H, W, 3, 1), np.uint8)] * 2, "expected a frame H×W×3"),
        ([np.zeros((0, W, 3), np.uint8)] * 2, "empty dimension"),
        (["frame.png", "frame2.png"], "frame 0 is a str"),
    ],
)
def test_bad_frames_in_a_list(frames, match):
    with pytest.raises(InputError, match=match):
        load_video(frames)


@pytest.mark.parametrize(
    "array,match",
    [
        (np.zeros((2, H, W), np.uint8), "leading time axis"),
        (np.zeros((2, 3, H, W, 1), np.uint8), "must be 4-D"),
        (np.zeros((2, 5, H, 7), np.uint8), "no channel axis"),
        (np.zeros((2, 3, H, 3), np.uint8), "ambiguous"),
        (np.full((2, H, W, 3), 2.0), r"\[0, 1\]"),
    ],
)
def test_bad_arrays(array, match):
    with pytest.raises(InputError, match=match):
        load_video(array)


def test_bad_names():
    with pytest.raises(InputError, match="3 frames but 2 names"):
        load_video(_frames(3), names=["a", "b"])
    with pytest.raises(InputError, match=r"unique, repeated: \['a'\]"):
        load_video(_frames(3), names=["a", "b", "a"])


def test_unsupported_source_type():
    with pytest.raises(InputError, match="cannot make a video from int"):
        load_video(42)


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        load_video([])


def test_a_video_of_working_size_copies_keeps_the_frames_own_size_through_slices():
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(4)]
    assert Video(arrays=frames).full_size == (48, 64)  # by default, the frames' size
    v = Video(arrays=frames, name="v", full_size=(96, 128))
    assert v.size == (48, 64) and v.full_size == (96, 128)
    assert v[1:3].full_size == (96, 128) and v[1:3].size == (48, 64)
