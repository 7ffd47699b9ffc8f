"""Booster.stream: the same maps as run() on the same frames, from iterators, folders and video files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial

from vsodboost.booster import Booster
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.errors import InputError, TargetError
from vsodboost.stream import iter_source


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(11, h=48, w=64, seed=2)
    return frames, target


def _booster(target, **kw):
    # fusion "replace": boosted maps are the tuned model's own, so tests can recompute them from the model
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=kw.pop("spatial", tiny_spatial()),
                   config=kw.pop("config", tiny_config(buffer_size=4, fusion="replace")), device="cpu", seed=5, **kw)


def _same(stream_bufs, result):
    maps = [m for b in stream_bufs for m in b.boosted]
    assert len(maps) == len(result.boosted)
    for a, b in zip(maps, result.boosted):
        np.testing.assert_array_equal(a, b)
    assert [(b.report.start, b.report.stop, b.report.mined) for b in stream_bufs] == \
        [(r.start, r.stop, r.mined) for r in result.buffers]
    assert [n for b in stream_bufs for n in b.names] == result.names
    np.testing.assert_array_equal(np.concatenate([b.motion_weight for b in stream_bufs]), result.motion_weight)


def test_stream_of_an_iterator_equals_run_buffer_by_buffer(clip):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    ref = b.run(np.stack(frames), name="clip")
    got = list(b.stream(iter(frames), name="clip"))  # a one-shot generator, not a list
    assert [len(x.names) for x in got] == [4, 4, 3] and [x.start for x in got] == [0, 4, 8]
    assert got[1].names == ["00004", "00005", "00006", "00007"] and got[1].timestamps == [None] * 4
    _same(got, ref)
    # the buffer size is the stream's own option; with the config's size the buffers differ and so do the maps
    other = list(b.stream(frames, name="clip", buffer_size=11))
    assert len(other) == 1 and not np.array_equal(other[0].boosted[5], ref.boosted[5])


def test_stream_yields_each_buffer_before_reading_the_next_frames(clip):
    frames, target = clip
    read = []

    def source():
        for i, f in enumerate(frames):
            read.append(i)
            yield f

    it = _booster(ArrayTarget(target)).stream(source())
    first = next(it)
    assert first.names == ["00000", "00001", "00002", "00003"] and max(read) <= 4


def test_stream_of_a_video_file_equals_run_on_that_file_with_timestamps(clip, tmp_path):
    frames, target = clip
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for f in frames:
        w.write(np.ascontiguousarray(f[:, :, ::-1]))
    w.release()
    b = _booster(ArrayTarget(target))
    ref = b.run(path)
    got = list(b.stream(path))
    assert ref.sequence == "clip"
    _same(got, ref)
    ts = [t for x in got for t in x.timestamps]
    assert ts[0] == pytest.approx(0.0) and np.allclose(np.diff(ts), 0.1)  # 10 fps
    # RGB, not OpenCV's BGR: the decoded frame is close to the (orange) original, far from its channel swap
    name, f, _ = next(iter_source(path))
    err, swapped = np.abs(f.astype(int) - frames[0]).mean(), np.abs(f[..., ::-1].astype(int) - frames[0]).mean()
    assert name == "00000" and err < 8 < swapped


def test_stream_of_a_folder_uses_file_stems(clip, tmp_path):
    frames, target = clip
    seq = tmp_path / "seq"
    seq.mkdir()
    for i, f in enumerate(frames[:6]):
        cv2.imwrite(str(seq / f"{i:05d}.png"), f[:, :, ::-1])
    b = _booster(ArrayTarget(target))
    got = list(b.stream(seq))
    _same(got, b.run(seq))
    from vsodboost.video import load_video
    via_video = list(b.stream(load_video(seq)[1:5]))  # a Video keeps its frame names
    assert [n for x in via_video for n in x.names] == ["00001", "00002", "00003", "00004"]
    np.testing.assert_array_equal(got[0].boosted[0], b.run(frames[:4], name="x").boosted[0])  # PNG is lossless


def test_warm_start_continues_from_the_previous_buffer_and_keeps_the_pretrained_model(clip):
    frames, target = clip
    spatial = tiny_spatial()
    before = {k: v.clone() for k, v in spatial.state_dict().items()}
    b = _booster(ArrayTarget(target))
    cold = list(b.stream(frames, keep_models=True))
    warm = list(b.stream(frames, warm_start=True, keep_models=True))
    assert all(torch.equal(before[k], v) for k, v in spatial.state_dict().items())
    np.testing.assert_array_equal(cold[0].boosted[0], warm[0].boosted[0])  # buffer 0 starts from the same model
    assert not np.array_equal(cold[1].boosted[0], warm[1].boosted[0])
    # a warm buffer's model = the previous tuned model fine-tuned again: start buffer 1 from buffer 0's by hand
    maps, _ = b.fine_tune_and_predict(torch.from_numpy(np.stack(frames[4:8])).permute(0, 3, 1, 2).contiguous(),
                                      [target[f"{i:05d}"] for i in range(4, 8)],
                                      [i - 4 for i in warm[1].report.mined], b.seed + 1, init=warm[0].model)
    np.testing.assert_allclose(maps[0].numpy(), warm[1].boosted[0], atol=1e-6)
    assert cold[0].model is not None and cold[0].model is not spatial
    assert all(x.model is None for x in b.stream(frames))  # models are dropped unless asked for


def test_run_keep_models_keeps_one_model_per_buffer_without_changing_maps(clip):
    frames, target = clip
    target = {k: v for k, v in target.items() if k != "00010"}  # the last buffer (frame 10) has nothing to learn
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=5, fusion="replace"))
    plain = b.run(np.stack(frames), name="clip")
    kept = b.run(np.stack(frames), name="clip", keep_models=True)
    assert plain.models == [] and len(kept.models) == len(kept.buffers) == 3
    assert all(np.array_equal(x, y) for x, y in zip(plain.boosted, kept.boosted))
    assert kept.models[0] is not None and kept.models[2] is None
    # the kept model reproduces its buffer's maps
    from vsodboost.spatial.finetune import predict_maps
    x = torch.from_numpy(np.stack(frames[:5])).permute(0, 3, 1, 2).contiguous()
    again = predict_maps(kept.models[0], x, input_size=64)
    np.testing.assert_allclose(again.numpy()[3], kept.boosted[3], atol=1e-6)


@pytest.mark.parametrize("source,match", [
    ("nope/missing.mp4", "does not exist"),
    ([np.zeros((8, 8, 3), np.float32)] * 3, "uint8"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], "same size"),
    ([np.zeros((8, 8), np.uint8)] * 2, "H×W×3"),
    ([], "no frames"),
    (3.5, "cannot stream"),
])
def test_bad_sources_are_typed_errors_saying_what_to_pass(source, match):
    b = _booster(ArrayTarget({}))
    with pytest.raises(InputError, match=match):
        list(b.stream(source, buffer_size=1))


def test_unopenable_file_and_bad_buffer_size_raise_when_called(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    b = _booster(ArrayTarget({}))
    with pytest.raises(InputError, match="cannot open"):
        b.stream(bad)  # raised before iterating
    with pytest.raises(InputError, match="buffer_size"):
        b.stream([np.zeros((8, 8, 3), np.uint8)], buffer_size=0)


def test_stream_without_any_target_map_ends_with_a_target_error(clip):
    frames, _ = clip
    with pytest.raises(TargetError, match="no map for any frame"):
        list(_booster(ArrayTarget({})).stream(frames[:4]))


def test_cli_stream_writes_the_maps_boost_writes_and_cli_export_the_buffers_model(clip, tmp_path):
    """`vsodboost stream` = `vsodboost boost` on the same folder; `vsodboost export --buffer 1` = that buffer."""
    import json

    from vsodboost.cli import main
    from vsodboost.export import ExportedSpatial

    frames, target = clip
    seq, maps = tmp_path / "frames" / "clip", tmp_path / "maps" / "clip"
    seq.mkdir(parents=True)
    maps.mkdir(parents=True)
    for i, f in enumerate(frames[:10]):
        cv2.imwrite(str(seq / f"{i:05d}.png"), f[:, :, ::-1])
        cv2.imwrite(str(maps / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"flow_max_side": 0, "fusion": "replace",
                               "finetune": {"iterations": 1, "batch_size": 2, "input_size": 64}}))
    common = ["--target", f"precomputed:{tmp_path / 'maps'}", "--spatial", "timm_unet", "--config", str(cfg),
              "--buffer-size", "4", "--device", "cpu"]
    torch.manual_seed(0)  # timm_unet is randomly initialised: the same init for each command
    assert main(["stream", str(seq), "--out", str(tmp_path / "s"), "--mp4", "--quiet", *common]) == 0
    torch.manual_seed(0)
    assert main(["boost", str(seq), "--out", str(tmp_path / "b"), "--quiet", *common]) == 0
    for i in range(10):
        a, b = (cv2.imread(str(tmp_path / d / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) for d in ("s", "b"))
        np.testing.assert_array_equal(a, b)
    log = json.loads((tmp_path / "s" / "stream.json").read_text())["buffers"]
    assert [(x["start"], x["frames"]) for x in log] == [(0, 4), (4, 4), (8, 2)]
    cap = cv2.VideoCapture(str(tmp_path / "s" / "side_by_side.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 128
    cap.release()
    torch.manual_seed(0)
    assert main(["export", str(seq), "--out", str(tmp_path / "e"), "--buffer", "1", "--maps", *common]) == 0
    x = np.stack(frames[4:8])
    got = ExportedSpatial(tmp_path / "e", threads=1).predict_frames(x)
    for k in range(4):
        png = cv2.imread(str(tmp_path / "s" / f"{k + 4:05d}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        assert np.abs(got[k] - png).max() <= 0.5 / 255 + 1e-4  # the stream's 8-bit map of buffer 1
    assert main(["export", str(seq), "--out", str(tmp_path / "e2"), "--buffer", "3", *common]) == 1  # 3 buffers


def test_cli_stream_refuses_a_non_empty_out_and_an_out_that_is_a_file(tmp_path, capsys):
    from vsodboost.cli import main

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    (tmp_path / "afile").write_text("x")
    args = ["--target", "precomputed:" + str(tmp_path), "--device", "cpu", "--quiet"]
    assert main(["stream", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "used"), *args]) != 0
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"
    assert main(["stream", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "afile"), *args]) != 0
    assert "is a file" in capsys.readouterr().err


def test_stream_holds_frames_longer_than_work_max_side_at_the_working_size_and_equals_run():
    # 128×96 frames with work_max_side=64: each frame is downscaled as it arrives (a 4K camera no longer fills a
    # buffer with full-size frames); the maps are run()'s, returned at the frames' own size
    frames, _, target = synthetic_clip(9, h=96, w=128, seed=3)
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=4, fusion="replace", work_max_side=64))
    ref = b.run(np.stack(frames), name="clip")
    seen = []

    class Spy(ArrayTarget):
        def predict(self, video):
            seen.append((video.size, video.full_size))
            return super().predict(video)

    b.target = Spy(target)
    got = list(b.stream(iter(frames), name="clip"))
    _same(got, ref)
    assert {m.shape for x in got for m in x.boosted} == {(96, 128)}
    assert {f.shape for x in got for f in x.frames} == {(48, 64, 3)}
    assert seen == [((48, 64), (96, 128))] * 3  # the target sees what run() gives it
    small = cv2.resize(frames[5], (64, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(got[1].frames[1], small)
