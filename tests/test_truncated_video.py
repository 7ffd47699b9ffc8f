"""Issue 12: a video file that ends early (a download or recording cut short) is refused, naming the file, how many
frames its container promised and how many decode, and how to fix it — never boosted short in silence
(docs/reliability.md). Frame folders with truncated JPEG/PNG files: tests/test_bad_inputs.py.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial
from vsodboost.booster import Booster
from vsodboost.testing import ArrayTarget
from vsodboost.errors import InputError
from vsodboost.stream import iter_source
from vsodboost._decode import file_truncation
from vsodboost.video import load_video

N, H, W = 30, 96, 128


def _write(path: Path, fourcc: str, n: int = N) -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (W, H))
    if not vw.isOpened():
        pytest.skip(f"this OpenCV cannot write {fourcc} into {path.suffix}")
    rng = np.random.default_rng(0)
    for i in range(n):
        f = (rng.random((H, W, 3)) * 255).astype(np.uint8)
        f[20:40, 3 * i: 3 * i + 20] = 255
        vw.write(f)
    vw.release()
    return path


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    out = path.with_name(f"cut{path.suffix}")
    out.write_bytes(data[: int(len(data) * keep)])
    return out


@pytest.mark.parametrize("name,fourcc", [("clip.avi", "MJPG"), ("clip.avi", "XVID"), ("clip.mkv", "XVID")],
                         ids=["avi-mjpg", "avi-xvid", "mkv-xvid"])
def test_truncated_video_file_is_refused_saying_how_many_frames_decode(tmp_path, name, fourcc):
    whole = _write(tmp_path / name, fourcc)
    assert len(load_video(whole)) == N  # the whole file: every frame
    cut = _cut(whole, 0.6)
    cap = cv2.VideoCapture(str(cut))
    decodable = 0
    while cap.grab():
        decodable += 1
    assert 0 < decodable < N  # what OpenCV alone gives: a shorter video, no error
    with pytest.raises(InputError) as err:
        load_video(cut)
    msg = str(err.value)
    assert f"video file {cut}: its container reports {N} frames but only {decodable} decode" in msg
    assert "truncated" in msg and "re-download or re-export" in msg and f"ffmpeg -i {cut} -c copy" in msg


def test_mp4_cut_before_its_index_names_the_missing_moov(tmp_path):
    whole = _write(tmp_path / "clip.mp4", "mp4v")
    assert len(load_video(whole)) == N
    cut = _cut(whole, 0.7)
    with pytest.raises(InputError, match=r"cannot open video file \S*cut.mp4: its 'mdat' box needs \d+ bytes from "
                                         r"byte \d+ but the file ends at \d+: the file is truncated and has no 'moov' "
                                         r"index; re-download or re-export the video"):
        load_video(cut)


def test_booster_refuses_a_truncated_file_before_any_compute(tmp_path):
    cut = _cut(_write(tmp_path / "clip.avi", "MJPG"), 0.5)
    b = Booster(ArrayTarget({}), mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(), config=tiny_config(), device="cpu")
    b.run_buffer = None  # type: ignore[assignment]  # refused before the first buffer
    with pytest.raises(InputError, match=rf"its container reports {N} frames but only \d+ decode"):
        b.run(cut)


def test_stream_of_a_truncated_file_yields_what_decodes_then_refuses(tmp_path):
    cut = _cut(_write(tmp_path / "clip.avi", "MJPG"), 0.5)
    seen = []
    with pytest.raises(InputError, match=rf"stream source \S*cut.avi: its container reports {N} frames but only "
                                         r"\d+ decode .* The buffers yielded so far are whole"):
        for name, frame, _ in iter_source(cut):
            seen.append(name)
    assert 0 < len(seen) < N and seen[0] == "00000"


def test_estimated_counts_allow_a_frame_or_two():
    # mkv/webm counts come from duration × fps: one frame short is not a truncation; an index's count is exact
    assert file_truncation(Path("a.mkv"), 99, 100.0) == ""
    assert "reports 100 frames but only 90 decode" in file_truncation(Path("a.mkv"), 90, 100.0)
    assert "reports 100 frames but only 99 decode" in file_truncation(Path("a.mp4"), 99, 100.0)
    assert file_truncation(Path("a.avi"), 5, 0.0) == "" and file_truncation(Path("a.avi"), 5, float("nan")) == ""
