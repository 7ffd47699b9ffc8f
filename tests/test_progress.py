"""Issue 21, part 4: progress that tells the truth — one bar per sequence in frames, naming the stage (flow,
mining, fine-tuning k/N, prediction k/N), prediction included; a finished folder says "already done" instead of
a bar; ``export`` and the Ray driver report too. The bars are forced on and stderr is captured."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

import vsodboost.booster as booster_mod
from conftest import FlowMagnitudeMQPM, tiny_booster, tiny_config, tiny_spatial
from vsodboost.cli import main
from vsodboost.runner import run_to_dir
from vsodboost.testing import ArrayTarget, synthetic_clip

N, H, W = 6, 48, 64


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=7)
    return np.stack(frames), target


def _booster(target, **kw):
    cfg = kw.pop("config", tiny_config(buffer_size=3, finetune={"iterations": 2, "predict_batch": 2}))
    return tiny_booster(target, config=cfg, **kw)


def test_each_buffer_tells_its_stages_in_order_prediction_included(clip):
    frames, target = clip
    events = []
    _booster(ArrayTarget(target)).run(frames, name="s", progress=False, on_stage=lambda *e: events.append(e))
    per_buffer = [events[:events.index(("frames", 3, N))], events[events.index(("frames", 3, N)):]]
    for b, ev in enumerate(per_buffer):
        names = [e[0] for e in ev]
        assert ev[:2] == [("frames", 3 * b, N), ("buffer", b + 1, 2)]
        assert names[2:6] == ["read", "target", "flow", "mining"]
        assert [e for e in ev if e[0] == "fine-tuning"] == [("fine-tuning", k, 2) for k in range(3)]
        # predicted in batches of 2 (predict_batch): frames 0, 2, 3 of the buffer's 3, the last event of a buffer
        assert [e for e in ev if e[0] == "prediction"] == [("prediction", 0, 3), ("prediction", 2, 3),
                                                           ("prediction", 3, 3)]
        assert ev[-1] == ("prediction", 3, 3)


def test_the_bar_counts_frames_and_names_the_stage(clip, capsys):
    frames, target = clip
    _booster(ArrayTarget(target)).run(frames, name="bar_seq", progress=True)
    err = capsys.readouterr().err
    assert "bar_seq" in err and "frame" in err and "it/s" not in err
    for text in ("buffer 1/2, flow", "buffer 1/2, mining", "buffer 2/2, fine-tuning 1/2", "fine-tuning 2/2",
                 "prediction 3/3", f"{N}/{N}"):
        assert text in err, text
    assert " 3/6 " in err  # the first buffer's frames count once predicted


def test_a_bar_only_on_a_terminal_unless_asked(clip, capsys, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=6))
    b.run(frames, name="quiet_seq")  # captured stderr is no terminal: silent by default
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    b.run(frames, name="tty_seq")
    assert "tty_seq" in capsys.readouterr().err
    b.run(frames, name="off_seq", progress=False)
    assert capsys.readouterr().err == ""
    calls = []
    b.run(frames, name="cb_seq", progress=lambda d, t: calls.append((d, t)))  # a callable: no bar
    assert calls == [(N, N)] and capsys.readouterr().err == ""


def test_run_to_dir_draws_the_bar_then_says_already_done(clip, tmp_path, capsys):
    frames, target = clip
    run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="seq", progress=True)
    first = capsys.readouterr().err
    assert "prediction 3/3" in first and "already done" not in first
    again = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="seq", progress=True)
    err = capsys.readouterr().err
    assert again["buffers_run"] == 0
    assert err.strip() == f"seq: already done ({N} frames in {tmp_path})"


@pytest.fixture
def cli_data(tmp_path, monkeypatch, clip):
    """frames/a/*.png with maps/a/*.png; the CLI's Booster with the fast test doubles."""
    frames, target = clip
    (tmp_path / "frames" / "a").mkdir(parents=True)
    (tmp_path / "maps" / "a").mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / "frames" / "a" / f"{i:05d}.png"), f[:, :, ::-1])
        cv2.imwrite(str(tmp_path / "maps" / "a" / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    real = booster_mod.Booster

    def fast(target, **kw):
        return real(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                    config=tiny_config(buffer_size=3, finetune={"iterations": 2}), device="cpu",
                    seed=kw.get("seed", 0), threads=kw.get("threads", 1))

    monkeypatch.setattr(booster_mod, "Booster", fast)
    return tmp_path


def test_cli_boost_shows_the_frame_bar_and_a_finished_rerun_says_already_done(cli_data, capsys):
    argv = ["boost", str(cli_data / "frames" / "a"), "--target", f"precomputed:{cli_data / 'maps'}",
            "--out", str(cli_data / "out")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "a: 6 frames" in out and "already done" not in out
    assert "fine-tuning 2/2" in err and "prediction 3/3" in err and "6/6" in err and "frame/s" in err
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "a: already done — 6 frames" in out and "frame/s" not in err and "prediction" not in err


def test_cli_export_shows_the_bar_of_its_buffer(cli_data, capsys):
    argv = ["export", str(cli_data / "frames" / "a"), "--target", f"precomputed:{cli_data / 'maps'}",
            "--out", str(cli_data / "adapted"), "--buffer", "1", "--formats", "torchscript"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "a buffer 1" in err and "fine-tuning 2/2" in err and "prediction 3/3" in err and "3/3" in err
    assert (cli_data / "adapted" / "spatial.pt").is_file()
    assert main([*argv[:5], str(cli_data / "adapted_q"), *argv[6:], "-q"]) == 0  # -q: no bar
    assert "frame" not in capsys.readouterr().err


def test_the_ray_driver_reports_each_buffer_written():
    from test_engines import _fake_body, _InlineRay

    from vsodboost.engines import Job, RayEngine

    lengths = {"a": [100, 4], "b": [50]}
    engine = RayEngine.__new__(RayEngine)
    engine.workers, engine.threads = 1, 1
    seen = []

    def progress(job):
        return (lambda d, t: seen.append((job.sequence, d, t))), None, None

    jobs = [Job(s, s, s) for s in lengths]
    out = list(engine._schedule(_InlineRay(_fake_body(lengths)), None, jobs, False, progress))
    assert [j.sequence for j, _ in out] == ["a", "b"]
    assert seen == [("a", 100, 104), ("b", 50, 50), ("a", 104, 104)]  # as buffers finish: longest first
