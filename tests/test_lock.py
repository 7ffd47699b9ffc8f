"""Issue 24: one writer per output folder. A second run on a folder another process is writing to is refused at
once with "another vsodboost run is writing to DIR (pid N)"; a lock left by a killed run is taken over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import write_clip_and_maps
from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial

import vsodboost.io as vio
from vsodboost.booster import Booster
from vsodboost.runner import run_to_dir
from vsodboost.cli import main
from vsodboost.errors import OutputError, OutputLockedError
from vsodboost.testing import ArrayTarget, synthetic_clip

N, H, W = 6, 48, 64

_HOLDER = r"""
import sys
from vsodboost.io import output_lock
with output_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of ``tmp_path / 'out'`` until the test ends."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    yield out, proc
    if proc.poll() is None:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=4)
    return np.stack(frames), target


def _booster(target):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                   config=tiny_config(buffer_size=3), device="cpu")


def test_a_second_writer_is_refused_at_once_naming_the_holder(clip, holder):
    frames, target = clip
    out, proc = holder
    b = _booster(ArrayTarget(target))
    calls = []
    b.run_buffer = lambda *a, **k: calls.append(a)  # type: ignore[method-assign]
    t = time.perf_counter()
    with pytest.raises(OutputLockedError, match=rf"another vsodboost run is writing to {out} \(pid {proc.pid}\)"):
        run_to_dir(b, frames, out, name="demo")
    assert time.perf_counter() - t < 5 and not calls  # at once, before any buffer
    assert isinstance(OutputLockedError("x"), OutputError)
    assert sorted(p.name for p in out.iterdir()) == [vio.LOCK_FILE]  # nothing of ours written beside it
    with pytest.raises(OutputLockedError):
        _booster(ArrayTarget(target)).run(frames, name="demo").save(out)
    # released: the same call runs
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=30)
    assert run_to_dir(_booster(ArrayTarget(target)), frames, out, name="demo")["complete"]
    assert not (out / vio.LOCK_FILE).exists()  # removed when the run ends


def test_cli_boost_on_a_locked_out_exits_1_before_loading_models(tmp_path, holder, capsys, monkeypatch):
    out, proc = holder
    frames = tmp_path / "frames" / "seq"
    frames.mkdir(parents=True)
    maps = tmp_path / "maps" / "seq"
    maps.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:05d}.png"), np.zeros((32, 32, 3), np.uint8))
        cv2.imwrite(str(maps / f"{i:05d}.png"), np.zeros((32, 32), np.uint8))
    import vsodboost.booster as B

    monkeypatch.setattr(B.Booster, "__init__", lambda *a, **k: pytest.fail("models loaded on a locked --out"))
    rc = main(["boost", str(frames), "--target", f"precomputed:{tmp_path / 'maps'}", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and f"another vsodboost run is writing to {out} (pid {proc.pid})" in err


def test_a_stale_lock_of_a_dead_process_is_taken_over(clip, tmp_path):
    frames, target = clip
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / vio.LOCK_FILE).write_text(f"{dead.pid}\n")  # what a SIGKILLed run leaves
    assert run_to_dir(_booster(ArrayTarget(target)), frames, out, name="demo")["complete"]
    assert not (out / vio.LOCK_FILE).exists()
    # a folder holding only a stale lock is not "someone else's folder"
    (out / vio.LOCK_FILE).write_text(f"{dead.pid}\n")
    assert run_to_dir(_booster(ArrayTarget(target)), frames, out, name="demo")["buffers_run"] == 0


def test_nested_holders_in_one_process_share_the_lock(tmp_path):
    with vio.output_lock(tmp_path / "o") as a:
        with vio.output_lock(tmp_path / "o") as b:
            assert a == b and (a / vio.LOCK_FILE).read_text().strip() == str(os.getpid())
        assert (a / vio.LOCK_FILE).exists()  # still held by the outer block
    assert not (a / vio.LOCK_FILE).exists()


def test_the_lock_works_with_a_filelock_without_on_acquired(tmp_path, monkeypatch):
    import filelock

    real = filelock.FileLock

    def old_filelock(path, timeout=-1, **kw):  # filelock 3.x: no on_acquired keyword
        if "on_acquired" in kw:
            raise TypeError("unexpected keyword argument 'on_acquired'")
        return real(path, timeout=timeout, **kw)

    monkeypatch.setattr(filelock, "FileLock", old_filelock)
    with vio.output_lock(tmp_path / "o") as out:
        assert (out / vio.LOCK_FILE).read_text().strip() == str(os.getpid())
        r = subprocess.run([sys.executable, "-c", _HOLDER, str(out)], input="\n", capture_output=True, text=True)
        assert r.returncode == 1 and f"(pid {os.getpid()})" in r.stderr
    assert not (out / vio.LOCK_FILE).exists()


def test_a_symlink_as_lock_file_is_refused(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (tmp_path / "victim").write_text("keep")
    os.symlink(tmp_path / "victim", out / vio.LOCK_FILE)
    with pytest.raises(OutputError, match="is a symlink, not vsodboost's lock file"):
        with vio.output_lock(out):
            pass
    assert (tmp_path / "victim").read_text() == "keep"


_RACER = r"""
import sys, time
from pathlib import Path
from vsodboost.cli import main
gate, me = Path(sys.argv[1]), sys.argv[2]
(gate / me).touch()
while len(list(gate.iterdir())) < 2:  # both imported: start together
    time.sleep(0.001)
sys.exit(main(sys.argv[3:]))
"""


def test_two_cli_runs_started_at_the_same_instant_one_runs_the_other_is_refused(clip, tmp_path):
    seq, _, common = write_clip_and_maps(tmp_path, *clip, buffer_size=3)
    out = tmp_path / "out"
    argv = ["boost", str(seq), "--out", str(out), *common, "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(gate), str(k), *argv], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 1], results
    loser = next(err for rc, err in results if rc == 1)
    assert f"another vsodboost run is writing to {out} (pid " in loser and "free space" not in loser
    state = json.loads((out / "vsodboost.json").read_text())
    assert state["complete"] and all(vio.map_is_complete(out / f"{i:05d}.png", (H, W)) for i in range(N))
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
