"""Issue 12: every bad input is refused early with a typed error that says what was wrong and how to fix it; every
documented fallback warns; output folders survive kills and reruns (docs/reliability.md).

CPU-only and offline; the stand-in MQPM and the tiny spatial model come from conftest. The checks of one module
live in its own file: test_config, test_components, test_runner.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import vsodboost.io as vio
from conftest import tiny_booster, tiny_config, truncate
from vsodboost import adapters
from vsodboost.runner import run_to_dir
from vsodboost.cli import main
from vsodboost.testing import ArrayTarget
from vsodboost.errors import InputError, MissingMapsError, OutputError, TargetError
from vsodboost.video import load_video, read_image

N, H, W = 12, 48, 64


_booster = tiny_booster


SEED_CASES = [
    ("2**70", 2**70, r"seed must be in \[0, 9223372036854775807\], got 1180591620717411303424"),
    ("negative", -1, r"seed must be in \[0, 9223372036854775807\], got -1"),
    ("float", 1.5, r"seed must be an integer, got 1.5 \(float\)"),
    ("bool", True, r"seed must be an integer, got True \(bool\)"),
]


@pytest.mark.parametrize("seed,match", [c[1:] for c in SEED_CASES], ids=[c[0] for c in SEED_CASES])
def test_seed_out_of_range_is_refused(seed, match):
    with pytest.raises(InputError, match=match):
        _booster(ArrayTarget({}), seed=seed)


# ---------------------------------------------------------------------------------------------------------------
# frames: truncated files, too small for the flow backend
@pytest.mark.parametrize("ext,match", [(".jpg", r"JPEG without its end-of-image marker \(FF D9\)"),
                                       (".png", r"PNG without its IEND chunk")], ids=["jpeg", "png"])
def test_truncated_frame_is_refused_naming_the_file(clip_factory, ext, match):
    folder, _ = clip_factory(n=4, h=96, w=128, ext=ext)
    truncate(folder / f"00002{ext}")
    assert cv2.imread(str(folder / f"00002{ext}")) is not None or ext == ".png"  # what OpenCV alone would accept
    video = load_video(folder)
    assert video[1].shape == (96, 128, 3)  # whole frames still read
    with pytest.raises(InputError, match=match) as err:
        video[2]
    assert f"00002{ext}" in str(err.value) and "re-extract" in str(err.value)


def test_truncated_target_map_is_refused_naming_the_file(clip12, tmp_path):
    frames, target = clip12
    (tmp_path / "maps" / "demo").mkdir(parents=True)
    for i in range(6):
        cv2.imwrite(str(tmp_path / "maps" / "demo" / f"{i:05d}.jpg"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    truncate(tmp_path / "maps" / "demo" / "00004.jpg")
    with pytest.raises(InputError, match=r"saliency map \S*00004.jpg: a JPEG without its end-of-image marker"):
        _booster(adapters.precomputed(tmp_path / "maps")).run(frames[:6], name="demo")


def test_jpeg_with_trailing_zero_padding_is_accepted(clip_factory):
    folder, _ = clip_factory(n=2, ext=".jpg")
    f = folder / "00000.jpg"
    f.write_bytes(f.read_bytes() + b"\x00" * 16)
    assert read_image(f).shape == (48, 64, 3)


@pytest.mark.parametrize("h,w", [(8, 8), (15, 64), (64, 11)], ids=["8x8", "15x64-strip", "64x11"])
def test_frames_too_small_for_the_flow_backend_are_refused_before_compute(clip12, h, w):
    _, target = clip12
    b = _booster(ArrayTarget({}), config=tiny_config(buffer_size=6))
    frames = np.zeros((4, h, w, 3), np.uint8)
    with pytest.raises(InputError, match=rf"are {w}×{h} \(W×H\); flow backend 'dis' needs at least 16×16 px"):
        b.run(frames, name="tiny")


# ---------------------------------------------------------------------------------------------------------------
# targets that raise
class Raising:
    name = "flaky"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def predict(self, video):
        raise self.exc


def test_target_exception_is_wrapped_with_the_buffer_and_frames(clip12):
    frames, _ = clip12
    boom = RuntimeError("CUDA out of memory")
    with pytest.raises(TargetError, match=r"target 'flaky' \(Raising\) raised RuntimeError: CUDA out of memory") as err:
        _booster(Raising(boom)).run(frames, name="demo")
    assert "buffer 0:6 of 'demo' (frames '00000'…'00005')" in str(err.value)
    assert err.value.__cause__ is boom


def test_typed_target_error_keeps_its_type_and_gains_the_buffer(clip12):
    frames, _ = clip12
    with pytest.raises(MissingMapsError, match="no maps here") as err:
        _booster(Raising(MissingMapsError("no maps here"))).run(frames, name="demo")
    assert any("buffer 0:6" in n for n in err.value.__notes__)


# ---------------------------------------------------------------------------------------------------------------
# output folders: refused before compute, atomic writes, disk full
def _no_compute(monkeypatch, booster):
    def fail(*a, **k):
        raise AssertionError("computed a buffer before checking the output folder")
    monkeypatch.setattr(booster, "run_buffer", fail)


def test_out_is_a_file(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match=r"output folder .*out is a file; choose a folder path for --out"):
        run_to_dir(b, frames, tmp_path / "out", name="demo")


def test_out_under_a_file(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match=r"out lies under .*f, which is a file"):
        run_to_dir(b, frames, tmp_path / "f" / "out", name="demo")


def test_out_not_writable_simulated(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    real = os.open

    def deny(path, *a, **k):
        if ".probe." in str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path, *a, **k)

    monkeypatch.setattr(vio.os, "open", deny)
    with pytest.raises(OutputError, match=r"output folder .*out is not writable \(Permission denied\)"):
        run_to_dir(b, frames, tmp_path / "out", name="demo")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_out_read_only_folder(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            run_to_dir(b, frames, ro, name="demo")
    finally:
        ro.chmod(0o755)


def _enospc(monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(vio.os, "write", full)


def test_disk_full_on_json_keeps_the_old_file_and_leaves_no_partial(tmp_path, monkeypatch):
    state = tmp_path / "vsodboost.json"
    vio.write_json_atomic(state, {"old": True})
    _enospc(monkeypatch)
    with pytest.raises(OutputError, match=r"cannot write .*vsodboost.json: No space left on device"):
        vio.write_json_atomic(state, {"new": list(range(1000))})
    assert json.loads(state.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vsodboost.json"]


def test_disk_full_during_a_run_is_a_typed_error(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target))
    _enospc(monkeypatch)
    with pytest.raises(OutputError, match="No space left on device"):
        run_to_dir(b, frames, tmp_path / "out", name="demo")
    assert not list((tmp_path / "out").glob("*" + vio.TMP_SUFFIX))


def test_nan_map_is_never_written_as_black(tmp_path):
    with pytest.raises(InputError, match="NaN or infinite"):
        vio.write_map_atomic(tmp_path / "a.png", np.full((4, 4), np.nan, np.float32))
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------------------------
# the command line: options refused up front, one clean line, exit status
def _cli(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        rc = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _boost_argv(disk12, tmp, *extra):
    return ["boost", disk12 / "frames" / "seq", "--target", f"precomputed:{disk12 / 'maps_a'}", "--out", tmp / "o",
            "--quiet", *extra]


CLI_CASES = [
    ("buffer-size-0", lambda d, t: _boost_argv(d, t, "--buffer-size", "0"), 2,
     r"argument --buffer-size: expected an integer ≥ 1, got 0"),
    ("buffer-size-word", lambda d, t: _boost_argv(d, t, "--buffer-size", "ten"), 2,
     r"argument --buffer-size: expected an integer ≥ 1, got 'ten'"),
    ("seed-2**70", lambda d, t: _boost_argv(d, t, "--seed", str(2**70)), 2,
     r"argument --seed: expected an integer in \[0, 2\*\*63-1\]"),
    ("config-missing", lambda d, t: _boost_argv(d, t, "--config", t / "nope.json"), 2,
     r"--config \S*nope.json: no such file; give a JSON file of BoostConfig fields"),
    ("config-invalid-json", lambda d, t: _boost_argv(d, t, "--config", _file(t, "bad.json", "{oops")), 2,
     r"--config \S*bad.json: invalid JSON \(.* line 1 column 2\)"),
    ("config-list", lambda d, t: _boost_argv(d, t, "--config", _file(t, "l.json", "[1]")), 2,
     r"expected a JSON object of BoostConfig fields, got a JSON list"),
    ("config-unknown-key", lambda d, t: _boost_argv(d, t, "--config", _file(t, "u.json", '{"perod": 5}')), 2,
     r"unknown config keys \['perod'\]"),
    ("config-finetune-unknown-key",
     lambda d, t: _boost_argv(d, t, "--config", _file(t, "f.json", '{"finetune": {"lrr": 1}}')), 2,
     r"unknown finetune keys \['lrr'\]"),
    ("config-bad-value", lambda d, t: _boost_argv(d, t, "--config", _file(t, "v.json", '{"hq_threshold": "x"}')),
     2, r"hq_threshold must be a number"),
    ("target-precomputed-without-root",
     lambda d, t: ["boost", d / "frames" / "seq", "--target", "precomputed", "--out", t / "o"], 2,
     r"--target 'precomputed': precomputed needs a maps folder: --target precomputed:/path/to/maps"),
    ("target-empty-root", lambda d, t: ["boost", d / "frames" / "seq", "--target", "precomputed:", "--out", t / "o"],
     2, r"give the maps folder after the colon"),  # a usage error, as without the colon (issue 22)
    ("out-is-a-file",
     lambda d, t: ["boost", d / "frames" / "seq", "--target", f"precomputed:{d / 'maps_a'}", "--out",
                   _file(t, "o", "x")], 1, r"output folder \S+ is a file"),
    ("eval-json-is-a-folder",
     lambda d, t: ["eval", "--pred", t / "nopred", "--gt", t / "nogt", "--json", t], 2,
     r"--json \S+ is a folder; give a file path, e.g. \S+scores.json"),
]


def _file(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text)
    return folder / name


@pytest.mark.parametrize("make,code,match", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_with_one_clean_line(disk12, tmp_path, capsys, make, code, match):
    rc, err = _cli(make(disk12, tmp_path), capsys)
    assert rc == code
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and lines[0].startswith("vsodboost ")
    assert __import__("re").search(match, lines[0]), lines[0]
    assert not (tmp_path / "o").is_dir() or not any((tmp_path / "o").glob("*.png"))


# ---------------------------------------------------------------------------------------------------------------
# documented fallbacks, each with its warning
@pytest.mark.parametrize("value", [0.0, 1.0], ids=["all-zero-target", "all-one-target"])
def test_flat_target_maps_keep_the_target_with_a_warning(clip12, value):
    frames, _ = clip12
    flat = {f"{i:05d}": np.full((H, W), value, np.float32) for i in range(N)}
    res = _booster(ArrayTarget(flat)).run(frames, name="demo")
    assert res.mined == []
    assert all(np.array_equal(m, flat[n]) for m, n in zip(res.boosted, res.names))
    assert any("flat (constant ≈ " + f"{value:.3f}" in w and "6 frame(s)" in w for w in res.warnings)
    assert any("kept the target's maps" in w for w in res.warnings) and all(b.fallback for b in res.buffers)


def test_a_kept_flat_target_with_gaps_fills_them_with_the_pretrained_models_maps(clip12):
    """Fallback with frames the target has no map for: those get the untuned spatial model's maps."""
    import torch

    from conftest import tiny_spatial
    from vsodboost.spatial import predict_maps

    frames, _ = clip12
    flat = {f"{i:05d}": np.full((H, W), 0.5, np.float32) for i in range(N) if i % 3}  # frames 0, 3, 6, 9: no map
    b = _booster(ArrayTarget(flat))
    res = b.run(frames, name="demo")
    assert res.mined == [] and all(bf.fallback for bf in res.buffers)
    x = torch.from_numpy(np.ascontiguousarray(frames[[0, 3]])).permute(0, 3, 1, 2)
    pre = predict_maps(tiny_spatial(), x, **b.config.finetune.predict_args()).numpy()
    np.testing.assert_allclose(res.boosted[0], pre[0], atol=1e-6)
    np.testing.assert_allclose(res.boosted[3], pre[1], atol=1e-6)
    assert np.array_equal(res.boosted[1], flat["00001"])


def test_partly_flat_target_is_never_mined_from_its_flat_frames(clip12):
    frames, target = clip12
    maps = dict(target)
    for i in range(0, N, 2):
        maps[f"{i:05d}"] = np.zeros((H, W), np.float32)
    res = _booster(ArrayTarget(maps), config=tiny_config(buffer_size=6, period=1)).run(frames, name="demo")
    assert res.mined and all(i % 2 == 1 for i in res.mined)
    assert any("flat" in w and "3 frame(s)" in w and "not used for fine-tuning" in w for w in res.warnings)


def test_collapsed_finetune_keeps_the_target_with_a_warning(clip12, tmp_path):
    frames, target = clip12
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=6, finetune={"lr": 1e6, "iterations": 3}))
    summary = run_to_dir(b, frames, tmp_path, name="demo")
    assert sum("fine-tuning collapsed" in w and "lower finetune.lr (now 1e+06)" in w
               for w in summary["warnings"]) == 2
    for i in range(N):
        saved = cv2.imread(str(tmp_path / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(saved, np.clip(target[f"{i:05d}"] * 255 + 0.5, 0, 255).astype(np.uint8))


# ---------------------------------------------------------------------------------------------------------------
# output guarantees
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)], ids=["umask022", "umask077"])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        vio.write_map_atomic(tmp_path / "m.png", np.zeros((4, 4)))
        vio.write_json_atomic(tmp_path / "s.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "m.png").stat().st_mode & 0o777 == mode
    assert (tmp_path / "s.json").stat().st_mode & 0o777 == mode


def test_a_frame_named_like_a_legacy_temporary_is_kept(tmp_path):
    (tmp_path / "a.1234abcd.png").write_bytes(b"map")  # the map of frame "a.1234abcd", not mkstemp's leftover
    (tmp_path / "a.5678efgh.png").write_bytes(b"")  # mkstemp's leftover for frame "a"
    removed = vio.clean_partials(tmp_path, ["a", "a.1234abcd"])
    assert [p.name for p in removed] == ["a.5678efgh.png"] and (tmp_path / "a.1234abcd.png").exists()


def test_sequence_name_must_be_a_string(clip12):
    frames, target = clip12
    with pytest.raises(InputError, match=r"name must be a string \(the sequence name a maps-mode target looks up\), "
                                         r"got 5 \(int\)"):
        _booster(ArrayTarget(target)).run(frames, name=5)


@pytest.mark.parametrize("name,data,match", [
    ("zeros.mp4", b"\x00" * 1000, r"it does not start like an MP4/MOV file \(no 'ftyp' box\): it is not a video, or "
                                  r"its extension '.mp4' is wrong"),
    ("text.mov", b"hello, world", r"it does not start like an MP4/MOV file"),
    ("empty.avi", b"", r"the file is empty \(0 bytes\)"),
], ids=["zeros-mp4", "text-mov", "empty-avi"])
def test_video_file_that_is_not_a_video_says_why(tmp_path, name, data, match):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError, match=rf"cannot open video file \S*{name}: {match}"):
        load_video(tmp_path / name)
