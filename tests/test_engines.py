"""Engines (docs/engines.md): ``--engine ray`` gives the local engine's bytes, resumes across engines, and without
Ray fails with a typed error naming the extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vsodboost.cli import main
from vsodboost.engines import BoostSpec, get_engine
from vsodboost.errors import MissingExtraError, UsageError
from vsodboost.runner import run_to_dir
from vsodboost.testing import synthetic_clip

N, H, W = 12, 48, 64
SEQS = ("a", "b")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """``frames/{a,b}/<stem>.png``, the target's maps ``maps/{a,b}/``, and a tiny config (2 buffers of 6)."""
    root = tmp_path_factory.mktemp("engines")
    for k, seq in enumerate(SEQS):
        frames, _, target = synthetic_clip(N, h=H, w=W, seed=10 + k)
        (root / "frames" / seq).mkdir(parents=True)
        (root / "maps" / seq).mkdir(parents=True)
        for i, f in enumerate(frames):
            cv2.imwrite(str(root / "frames" / seq / f"{i:05d}.png"), f[:, :, ::-1])
            cv2.imwrite(str(root / "maps" / seq / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    (root / "cfg.json").write_text(json.dumps(
        {"buffer_size": 6, "flow_max_side": 0,
         "finetune": {"iterations": 2, "batch_size": 2, "input_size": 64, "predict_batch": 16}}))
    return root


def _argv(data: Path, out: Path, *extra: str) -> list[str]:
    return ["boost", str(data / "frames"), "--target", f"precomputed:{data / 'maps'}", "--out", str(out),
            "--config", str(data / "cfg.json"), "--spatial", "lite0", "--device", "cpu", "--quiet", *extra]


def _maps(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def _state(folder: Path) -> dict:
    return json.loads((folder / "vsodboost.json").read_text())


def _without_timings(state: dict) -> dict:
    return {tag: {k: v for k, v in b.items() if k != "timings"} for tag, b in state["buffers_done"].items()}


@pytest.fixture(scope="module")
def local_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    assert main(_argv(data, out)) == 0
    maps = _maps(out)
    assert len(maps) == 2 * N
    return out, maps


# -- without Ray ----------------------------------------------------------------------------------------------------
def test_engine_ray_without_ray_is_a_typed_error_naming_the_extra(monkeypatch, data, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingExtraError, match=r'pip install "vsodboost\[ray\]"'):
        get_engine("ray")
    out = tmp_path / "out"
    assert main(_argv(data, out, "--engine", "ray")) == 1
    err = capsys.readouterr().err
    assert 'vsodboost[ray]' in err and "--engine local" in err
    assert not out.exists()  # refused before any work or output


def test_ray_options_without_engine_ray_are_refused(data, tmp_path, capsys):
    with pytest.raises(UsageError, match="--engine ray"):
        get_engine("local", address="auto")
    assert main(_argv(data, tmp_path / "o", "--workers", "2")) == 2
    assert "--workers is an option of the Ray engine" in capsys.readouterr().err


def test_bench_takes_the_engine_options_and_refuses_ray_ones_without_ray(data, tmp_path, capsys):
    argv = ["bench", "--data", str(data), "--layout", "davsod", "--target", f"precomputed:{data / 'maps'}",
            "--out", str(tmp_path / "o"), "--workers", "2"]
    assert main(argv) == 2
    assert "--workers is an option of the Ray engine" in capsys.readouterr().err
    assert not (tmp_path / "o" / "boosted").exists()


# -- with Ray -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install \"vsodboost[ray]\"); the Ray engine "
                                            "tests need it")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_engine_gives_the_local_engines_bytes_and_settings(ray_session, data, local_run, tmp_path):
    ref_out, ref_maps = local_run
    out = tmp_path / "ray"
    assert main(_argv(data, out, "--engine", "ray", "--workers", "2")) == 0
    assert _maps(out) == ref_maps
    for seq in SEQS:
        a, b = _state(ref_out / seq), _state(out / seq)
        assert a["settings"] == b["settings"] and b["complete"]
        assert _without_timings(a) == _without_timings(b)


def test_a_killed_local_run_resumes_under_ray_and_a_ray_run_under_local(ray_session, data, local_run, tmp_path):
    _, ref_maps = local_run
    out = tmp_path / "out"
    cfg = json.loads((data / "cfg.json").read_text())
    from functools import partial

    from vsodboost.commands.boost import parse_target

    spec = BoostSpec(target=partial(parse_target, f"precomputed:{data / 'maps'}", {}), spatial="lite0", config=cfg,
                     preset="quality", device="cpu")

    class Killed(Exception):
        pass

    def kill_after_first_buffer(done: int, total: int) -> None:
        raise Killed  # called once the first buffer's maps and state are written

    with pytest.raises(Killed):
        run_to_dir(spec.build(), data / "frames" / "b", out / "b", name="b", progress=kill_after_first_buffer)
    assert set(_state(out / "b")["buffers_done"]) == {"0:6"}

    # ray finishes: `a` from scratch, `b` resumes with its second buffer only
    assert main(_argv(data, out, "--engine", "ray", "--workers", "2")) == 0
    assert _maps(out) == ref_maps
    assert _state(out / "a")["buffers_run"] == 2 and _state(out / "b")["buffers_run"] == 1

    # and the local engine resumes what Ray wrote: nothing left to compute
    (out / "a" / "00007.png").unlink()
    assert main(_argv(data, out)) == 0
    assert _maps(out) == ref_maps
    assert _state(out / "a")["buffers_run"] == 1 and _state(out / "b")["buffers_run"] == 0


def test_ray_engine_reports_typed_errors_per_sequence(ray_session, data, tmp_path, capsys):
    # `c` has frames but no maps: skipped with a warning (exit 3) under Ray as locally, the others boosted
    import shutil

    root = tmp_path / "d"
    shutil.copytree(data / "frames", root / "frames")
    shutil.copytree(data / "frames" / "a", root / "frames" / "c")
    shutil.copytree(data / "maps", root / "maps")
    (root / "cfg.json").write_text((data / "cfg.json").read_text())
    out = tmp_path / "out"
    assert main(_argv(root, out, "--engine", "ray", "--workers", "2", "--sequences", "a,c")) == 3
    err = capsys.readouterr().err
    assert "skipped sequence 2/2 c" in err
    assert (out / "a" / "vsodboost.json").is_file() and not (out / "c").exists()


# -- bench: the main run on Ray -------------------------------------------------------------------------------------
from test_bench import CONFIG as BENCH_CONFIG, dataset  # noqa: E402,F401  (the synthetic DAVSOD-layout dataset)


def _bench_run(dataset, out, **kw):
    from vsodboost.adapters import PrecomputedTarget
    from vsodboost.bench import run_bench

    kw = {"mqpm": "default", "spatial": "lite0", "log": lambda s: None, **kw}
    return run_bench(dataset / "data", layout="davsod", target=PrecomputedTarget(dataset / "maps", name="synth"),
                     out=out, config=BENCH_CONFIG, device="cpu", vis_frames=0, baselines=False, **kw)


def test_bench_main_run_on_ray_gives_the_local_report_and_recordings(ray_session, dataset, tmp_path):
    local = _bench_run(dataset, tmp_path / "local")
    remote = _bench_run(dataset, tmp_path / "ray", engine="ray", workers=2)
    # every map the main run writes or records: boosted, target, motion, theta, spatial
    maps = _maps(tmp_path / "local")
    assert {k.split("/")[0] for k in maps} >= {"boosted", "target", "motion", "theta", "spatial"}
    assert _maps(tmp_path / "ray") == maps
    assert remote["gain"] == local["gain"] and remote["mined"] == local["mined"]
    for key in ("target", "boosted"):
        assert {k: v for k, v in remote[key].items() if k != "maps"} == \
            {k: v for k, v in local[key].items() if k != "maps"}


def test_bench_runs_every_protocol_on_ray_with_the_local_numbers(ray_session, dataset, tmp_path):
    # Table III's three extra runs (MS pseudo-GT with random / MQPM frames, the control) go through the engine too
    local = _bench_run(dataset, tmp_path / "local", protocols=("table3",))
    lines: list[str] = []
    remote = _bench_run(dataset, tmp_path / "ray", engine="ray", workers=2, protocols=("table3",), log=lines.append)
    for run in ("main", "MS-MQPM", "MS+MQPM", "control"):  # each run went through the Ray engine
        assert any(line.startswith(f"[{run} on ray] ") for line in lines), (run, lines)
    runs = _maps(tmp_path / "local" / "runs")
    assert {k.split("/")[0] for k in runs} == {"table3_ms_random", "table3_ms_mqpm", "table3_control"}
    assert _maps(tmp_path / "ray" / "runs") == runs
    assert remote["table3"]["rows"] == local["table3"]["rows"]


def test_bench_on_ray_refuses_loaded_models(ray_session, dataset, tmp_path):
    from test_bench import StubMQPM

    from vsodboost.errors import InputError

    with pytest.raises(InputError, match="give mqpm as a name or a weights path, not a loaded model"):
        _bench_run(dataset, tmp_path / "o", engine="ray", workers=2, mqpm=StubMQPM())


# -- the Ray engine's schedule, with an in-process stand-in for Ray ---------------------------------------------------
class _InlineRay:
    """What RayEngine._schedule uses of Ray (remote, put, wait, get), run in this process: a task runs when it is
    waited on, oldest first. Records every submitted step and the most steps in flight at once."""

    def __init__(self, body):
        self.body, self.submitted, self.flight, self.most = body, [], [], 0

    def put(self, x):
        return x

    def remote(self, **_):
        ray = self

        class Task:
            @staticmethod
            def remote(*args):
                ref = object()
                ray.submitted.append((args[0], args[2].sequence, args[5]))
                ray.flight.append((ref, args))
                ray.most = max(ray.most, len(ray.flight))
                return ref

        return lambda fn: Task

    def wait(self, refs, num_returns=1):
        ref, args = next((r, a) for r, a in self.flight if r in refs)
        self.flight.remove((ref, args))
        self.results = {ref: self.body(*args)}
        return [ref], [r for r in refs if r is not ref]

    def get(self, ref):
        return self.results[ref]


def _fake_body(lengths, fail=()):
    """A stand-in for _ray_step on jobs whose buffers have the given lengths; steps named in ``fail`` fail."""
    from types import SimpleNamespace

    from vsodboost.errors import InputError

    def body(step, spec, job, threads, run, b, overwrite):
        if (step, job.sequence, b) in fail:
            return False, InputError(f"{step} {job.sequence} {b} failed")
        if step == "open":
            spans, s = [], 0
            for n in lengths[job.sequence]:
                spans.append((s, s + n))
                s += n
            recorded = {}
            return True, SimpleNamespace(todo=list(range(len(spans))), spans=spans, recorded=recorded,
                                         record=lambda k, entry: recorded.__setitem__(k, entry))
        if step == "buffer":
            assert b not in run.recorded
            return True, {"buffer": b}
        return True, {"sequence": job.sequence, "recorded": sorted(run.recorded)}

    return body


def test_ray_schedule_opens_first_then_buffers_longest_first_and_finishes_each_after_its_buffers():
    from vsodboost.engines import Job, RayEngine

    lengths = {"a": [100, 4], "b": [50], "c": [80]}
    ray = _InlineRay(_fake_body(lengths))
    engine = RayEngine.__new__(RayEngine)
    engine.workers, engine.threads = 2, 1
    jobs = [Job(s, f"frames/{s}", f"out/{s}") for s in lengths]
    out = list(engine._schedule(ray, None, jobs, overwrite=False))
    # every job handed back once, in the given order, each finished after all its buffers were recorded
    assert [(j.sequence, o) for j, o in out] == [("a", {"sequence": "a", "recorded": [0, 1]}),
                                                 ("b", {"sequence": "b", "recorded": [0]}),
                                                 ("c", {"sequence": "c", "recorded": [0]})]
    steps = ray.submitted
    assert [s for s in steps if s[0] == "open"] == steps[:3]  # all opens before any buffer
    buffers = [(seq, b) for step, seq, b in steps if step == "buffer"]
    assert [lengths[seq][b] for seq, b in buffers] == [100, 80, 50, 4]  # longest first, across sequences
    for seq in lengths:  # finish after the sequence's last buffer
        last = max(i for i, s in enumerate(steps) if s[:2] == ("buffer", seq))
        assert steps.index(("finish", seq, -1)) > last
    assert ray.most == 2  # never more than `workers` tasks in flight


def test_ray_schedule_reports_a_failed_step_and_runs_no_more_of_that_job():
    from vsodboost.engines import Job, RayEngine
    from vsodboost.errors import InputError

    lengths = {"a": [10, 10, 10], "b": [10]}
    ray = _InlineRay(_fake_body(lengths, fail={("buffer", "a", 0)}))
    engine = RayEngine.__new__(RayEngine)
    engine.workers, engine.threads = 1, 1
    out = dict((j.sequence, o) for j, o in engine._schedule(ray, None, [Job(s, s, s) for s in lengths], False))
    assert isinstance(out["a"], InputError) and "buffer a 0 failed" in str(out["a"])
    assert out["b"] == {"sequence": "b", "recorded": [0]}
    assert ("finish", "a", -1) not in ray.submitted
    assert [s for s in ray.submitted if s[:2] == ("buffer", "a")] == [("buffer", "a", 0)]  # one worker: no others


def test_a_ray_worker_sets_its_torch_and_opencv_threads_once_and_reuses_its_booster(monkeypatch):
    # OpenCV's own pool (DIS flow, resizing) woke ~200 times a second per worker and pre-empted the other worker's
    # fine-tuning: a worker keeps to `threads` threads of both libraries (docs/engines.md)
    import cv2
    import torch

    from vsodboost import engines

    before = torch.get_num_threads(), cv2.getNumThreads()
    built = []
    monkeypatch.setattr(engines, "_WORKER_BOOSTERS", {})
    try:
        cv2.setNumThreads(4)
        spec = lambda: built.append(object()) or built[-1]  # noqa: E731 - a builder
        first = engines._worker_booster(spec, 1)
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
        assert engines._worker_booster(spec, 1) is first and len(built) == 1  # built once per worker and spec
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
