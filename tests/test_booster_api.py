"""The Booster's public seams (issue 13): run_buffer → BufferOutput, selectors and observers instead of overriding
privates, no process-wide torch state, the caller's Video left alone, run_to_dir's buffers_run count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial
from vsodboost import Video
from vsodboost.bench._runs import random_frames_booster, recording_booster, random_frames
from vsodboost.booster import Booster
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.mining import Selection, select_frames
from vsodboost.results import BufferOutput, MiningRecord
from vsodboost.runner import run_to_dir


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(12, h=48, w=64, seed=1)
    return np.stack(frames), target


def _booster(target, **kw):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                   config=kw.pop("config", tiny_config(buffer_size=6)), device="cpu", **kw)


def test_run_buffer_gives_a_typed_output_equal_to_runs_buffer(clip):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    whole = b.run(frames, name="demo")
    video = b.load(frames, name="demo")
    out = b.run_buffer(video, 6, 12)  # seed defaults to seed + buffer index, as run() gives it
    assert isinstance(out, BufferOutput) and len(out.boosted) == 6 and out.report.start == 6
    for got, want in zip(out.boosted, whole.boosted[6:]):
        np.testing.assert_array_equal(got, want)
    assert out.report.mined == whole.buffers[1].mined and out.model is not None


def test_the_process_rng_and_threads_are_left_as_they_were_and_maps_repeat(clip):
    frames, target = clip
    seen = []

    class Spy(ArrayTarget):
        def predict(self, video):
            seen.append(torch.get_num_threads())
            return super().predict(video)

    before_threads = torch.get_num_threads()
    torch.manual_seed(1234)
    expected_draw = torch.rand(3)
    torch.manual_seed(1234)
    b = _booster(Spy(target), threads=2 if before_threads != 2 else 3)
    first = b.run(frames, name="demo")
    assert torch.equal(torch.rand(3), expected_draw)  # the run neither seeded nor consumed the caller's RNG
    assert torch.get_num_threads() == before_threads and set(seen) == {b.threads}  # threads only while it ran
    torch.manual_seed(99)  # another global state: the same maps
    again = b.run(frames, name="demo")
    for x, y in zip(first.boosted, again.boosted):
        np.testing.assert_array_equal(x, y)


def test_run_does_not_rename_the_callers_video(clip):
    frames, target = clip
    video = Video(arrays=list(frames), name="original")
    res = _booster(ArrayTarget(target)).run(video, name="demo")
    assert video.name == "original" and res.sequence == "demo"


def test_a_selector_decides_the_mined_frames_and_gets_the_buffers_seed(clip):
    frames, target = clip
    calls = []

    def first_frame(hq_prob, consistency, has_target, *, period, threshold, seed):
        calls.append(seed)
        return Selection([0], [0])

    res = _booster(ArrayTarget(target), selector=first_frame, seed=7).run(frames, name="demo")
    assert res.mined == [0, 6] and calls == [7, 8]


def test_random_frames_keeps_as_many_frames_as_the_mqpm_drawn_by_seed():
    rng = np.random.default_rng(0)
    hq, cons, has = rng.random(20), rng.random(20), rng.random(20) > 0.3
    paper = select_frames(hq, cons, has, period=3, threshold=0.5)
    a = random_frames(hq, cons, has, period=3, threshold=0.5, seed=1)
    assert len(a.indices) == len(paper.indices) and all(has[i] for i in a.indices)
    assert a.indices == random_frames(hq, cons, has, period=3, threshold=0.5, seed=1).indices
    assert any(random_frames(hq, cons, has, period=3, threshold=0.5, seed=s).indices != a.indices for s in range(2, 9))


def test_observers_see_each_buffer_before_run_to_dir_records_it(clip, tmp_path):
    frames, target = clip
    events = []

    class Watch:
        def on_mined(self, rec: MiningRecord):
            assert rec.flow_images.dtype == torch.uint8 and rec.motion_saliency.shape[0] == len(rec.names)
            events.append(("mined", rec.sequence, rec.start, rec.names[0]))

        def on_buffer(self, video, start, stop, out):
            state = (tmp_path / "out" / "vsodboost.json").read_text()
            assert f'"{start}:{stop}"' not in state  # not yet recorded as done
            events.append(("buffer", video.name, start, len(out.boosted)))

    b = _booster(ArrayTarget(target), observers=[Watch()])
    summary = run_to_dir(b, frames, tmp_path / "out", name="demo")
    assert events == [("mined", "demo", 0, "00000"), ("buffer", "demo", 0, 6),
                      ("mined", "demo", 6, "00006"), ("buffer", "demo", 6, 6)]
    assert summary["buffers_run"] == 2
    assert run_to_dir(b, frames, tmp_path / "out", name="demo")["buffers_run"] == 0 and len(events) == 4


def test_bench_boosters_are_plain_boosters_built_through_public_seams(clip, tmp_path):
    frames, target = clip
    rec = recording_booster(ArrayTarget(target), record=tmp_path, flow="dis", mqpm=FlowMagnitudeMQPM(),
                           spatial=tiny_spatial(), config=tiny_config(buffer_size=6), device="cpu")
    rnd = random_frames_booster(ArrayTarget(target), flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                              config=tiny_config(buffer_size=6), device="cpu")
    assert type(rec) is Booster and type(rnd) is Booster and rnd.selector is random_frames
    rec.run(frames, name="demo")
    for kind in ("target", "motion", "theta"):
        assert sorted(p.stem for p in (tmp_path / kind / "demo").glob("*.png")) == [f"{i:05d}" for i in range(12)]
