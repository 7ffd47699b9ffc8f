"""Issue 21, part 3: the Python API has the command line's defaults (one torch thread while it computes, a
bar only on a terminal), so the same call through both writes the same bytes; the thread count is part of the
resume key, because torch's CPU kernels give maps up to 1/255 apart on 1 and 2 threads (docs/threads.md)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial
from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.cli import main
from vsodboost.errors import ResumeError
from vsodboost.runner import run_to_dir
from vsodboost.testing import ArrayTarget, synthetic_clip

N, H, W = 10, 48, 64


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """``frames/clip/<stem>.png``, the target's maps ``maps/clip/``, a fast config (2 buffers, 2 iters)."""
    root = tmp_path_factory.mktemp("agree")
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=21)
    (root / "frames" / "clip").mkdir(parents=True)
    (root / "maps" / "clip").mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(root / "frames" / "clip" / f"{i:05d}.png"), f[:, :, ::-1])
        cv2.imwrite(str(root / "maps" / "clip" / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    cfg = {"buffer_size": 5, "finetune": {"iterations": 2, "batch_size": 2, "input_size": 64}}
    (root / "cfg.json").write_text(json.dumps(cfg))
    return root, cfg


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_the_same_call_through_python_and_the_cli_writes_byte_identical_maps(data, tmp_path, capsys):
    root, cfg = data
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # a caller on torch's default: the Booster still computes on one thread
        seen: set[int] = set()
        result = Booster(adapters.precomputed(root / "maps"), preset="fast", config=cfg, device="cpu").run(
            str(root / "frames" / "clip"),
            on_stage=lambda stage, *_: stage in ("frames", "buffer") or seen.add(torch.get_num_threads()))
        assert seen == {1} and torch.get_num_threads() == 2  # 1 while it computed, the caller's setting after
        result.save(tmp_path / "py")
        assert capsys.readouterr().err == ""  # stderr is not a terminal here: no bar by default
        assert main(["boost", str(root / "frames" / "clip"), "--target", f"precomputed:{root / 'maps'}",
                     "--preset", "fast", "--config", str(root / "cfg.json"), "--device", "cpu",
                     "--out", str(tmp_path / "cli"), "-q"]) == 0
    finally:
        torch.set_num_threads(before)  # the CLI's --threads is process-wide
    py, cli = _pngs(tmp_path / "py"), _pngs(tmp_path / "cli")
    assert len(py) == N and py.keys() == cli.keys()
    assert [k for k in py if py[k] != cli[k]] == []
    state = json.loads((tmp_path / "cli" / "vsodboost.json").read_text())
    assert state["settings"]["threads"] == 1  # the CLI's default, recorded in the resume key


def _booster(target, **kw):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                   config=kw.pop("config", tiny_config(buffer_size=6)), device="cpu", **kw)


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(6, h=H, w=W, seed=5)
    return np.stack(frames), target


def test_a_folder_made_on_another_thread_count_is_refused_naming_it(clip, tmp_path):
    frames, target = clip
    first = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert first["settings"]["threads"] == 1
    with pytest.raises(ResumeError, match=r"torch CPU threads \(maps differ between thread counts; "
                                          r"--threads, Booster\(threads=\)\): 1 → 2"):
        run_to_dir(_booster(ArrayTarget(target), threads=2), frames, tmp_path, name="demo")
    again = run_to_dir(_booster(ArrayTarget(target), threads=1), frames, tmp_path, name="demo")
    assert again["buffers_run"] == 0  # the same count resumes


def test_threads_0_records_the_count_torch_runs_on(clip, tmp_path):
    frames, target = clip
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        state = run_to_dir(_booster(ArrayTarget(target), threads=0), frames, tmp_path, name="demo")
    finally:
        torch.set_num_threads(before)
    assert state["settings"]["threads"] == 2


def test_a_folder_from_before_the_thread_count_was_recorded_resumes_on_one_thread_only(clip, tmp_path):
    """Such a folder is taken as made on 1 thread, the command line's default then (docs/reliability.md)."""
    frames, target = clip
    first = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    state = json.loads((tmp_path / "vsodboost.json").read_text())
    del state["settings"]["threads"]  # as written before issue 21
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    again = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert again["buffers_run"] == 0 and again["buffers_done"] == first["buffers_done"]
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    with pytest.raises(ResumeError, match=r"torch CPU threads .*: \(absent\) → 2"):
        run_to_dir(_booster(ArrayTarget(target), threads=2), frames, tmp_path, name="demo")
