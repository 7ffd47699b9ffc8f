"""Everything to check on a GPU in one run: the test suite, a CUDA smoke test of the Booster, stage timing.

    python benchmarks/gpu_check.py [--out gpu_check] [--skip-tests] [--skip-bench] [--frames 100]

For a machine with an NVIDIA GPU and a CUDA build of torch; without CUDA it exits at once with status 2 and
says why (nothing else runs). No test depends on a GPU: the default suite is CPU-only and passes without one;
on a GPU it also runs the tests that skip without CUDA. ``--device cpu`` runs the same steps on the CPU, to
check this script where no GPU is lent. Steps, each reported in ``OUT/gpu_check.json``:

1. ``env``: GPU, torch, CUDA, cuDNN, CPU count, load.
2. ``smoke``: on a synthetic clip (offline, seconds): the Booster on ``cuda`` with the ``fast`` and
   ``quality`` presets (few iterations), with ``finetune.autocast="bf16"``, and with the live U²-Net-p
   target on CUDA; each run's maps are checked (one per frame, finite, in [0, 1]), compared with the same call
   on the CPU (max and mean absolute difference; not expected to be byte-equal) and with a second CUDA run of
   the same seed (``repeatable``: byte-equal or not; the README's "When are maps bit-identical?" has no CUDA
   row yet).
3. ``bench``: ``benchmarks/bench_booster.py --device cuda --threads 1`` for ``quality`` and ``fast`` on DAVIS
   ``cows`` (``--frames``, default 100; per-stage seconds, peak GPU memory); skipped without ../shared/data.
4. ``tests``: ``python -m pytest -q`` (the default suite; ``OUT/pytest.txt`` holds its output).

Exit status: 0 when every step that ran passed, 1 otherwise, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def require_cuda() -> None:
    if torch.cuda.is_available():
        return
    build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
    print(f"gpu_check: CUDA is not available here (torch {torch.__version__}, {build}; "
          "torch.cuda.is_available() is False). Run it on a machine with an NVIDIA GPU, its driver, and a "
          "CUDA build of torch; nothing was run.", file=sys.stderr)
    raise SystemExit(2)


def env(device: str) -> dict[str, Any]:
    cuda = device.startswith("cuda")
    return {"device": device, "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "gpus": torch.cuda.device_count() if cuda else 0, "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if cuda else None,
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2),
            "bf16": torch.cuda.is_bf16_supported() if cuda else None}


def run_tests(out: Path) -> dict[str, Any]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True)
    (out / "pytest.txt").write_text(proc.stdout + proc.stderr)
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or [""]
    return {"ok": proc.returncode == 0, "returncode": proc.returncode, "summary": tail[0],
            "seconds": round(time.perf_counter() - t, 1)}


def _maps_ok(maps: list[np.ndarray], n: int) -> str:
    if len(maps) != n:
        return f"{len(maps)} maps for {n} frames"
    for m in maps:
        a = np.asarray(m)
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            return "a map is not finite or not in [0, 1]"
    return ""


def smoke(device: str) -> dict[str, Any]:
    from vsodboost import adapters
    from vsodboost.booster import Booster
    from vsodboost.testing import ArrayTarget, synthetic_clip

    frames, _, target = synthetic_clip(8, h=120, w=160, seed=0)
    clip = np.stack(frames)
    cases: dict[str, tuple[Any, dict[str, Any]]] = {
        "fast": (lambda: ArrayTarget(target), {"preset": "fast"}),
        "quality": (lambda: ArrayTarget(target), {"preset": "quality"}),
        "quality_bf16": (lambda: ArrayTarget(target), {"preset": "quality",
                                                        "config": {"finetune": {"autocast": "bf16"}}}),
        "fast_live_u2netp": (None, {"preset": "fast"}),
    }
    results: dict[str, Any] = {}
    for name, (make_target, kw) in cases.items():
        rep: dict[str, Any] = {}
        try:
            cfg = {"buffer_size": 4, **kw.get("config", {})}
            cfg["finetune"] = {"iterations": 2, **cfg.get("finetune", {})}
            runs = {}
            for label, dev in (("cuda", device), ("cuda_again", device), ("cpu", "cpu")):
                tgt = make_target() if make_target else adapters.u2netp(device=dev)
                b = Booster(tgt, preset=kw["preset"], config=cfg, device=dev, seed=0, threads=1)
                t = time.perf_counter()
                res = b.run(clip, name="smoke", progress=False)
                if dev.startswith("cuda"):
                    torch.cuda.synchronize()
                rep[f"{label}_s"] = round(time.perf_counter() - t, 2)
                runs[label] = np.stack([np.asarray(m, dtype=np.float32) for m in res.maps])
                bad = _maps_ok(list(res.maps), len(clip))
                if bad:
                    raise AssertionError(f"{label}: {bad}")
            d = np.abs(runs["cuda"] - runs["cpu"])
            rep.update(ok=True, cuda_vs_cpu_max=round(float(d.max()), 4),
                       cuda_vs_cpu_mean=round(float(d.mean()), 5),
                       repeatable=bool(np.array_equal(runs["cuda"], runs["cuda_again"])))
        except Exception as exc:  # reported, the other cases still run
            rep.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        results[name] = rep
        print(f"smoke {name}: {json.dumps(rep)}", flush=True)
    return {"ok": all(r["ok"] for r in results.values()), "cases": results}


def bench(frames: int, device: str) -> dict[str, Any]:
    from vsodboost.datasets import find_shared_data

    if find_shared_data() is None:
        return {"ok": True, "skipped": "no ../shared/data (or $VSODBOOST_DATA): the per-stage timing needs "
                                       "DAVIS2016 and PDB's maps"}
    out: dict[str, Any] = {"ok": True}
    for preset in ("quality", "fast"):
        cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_booster.py"), "--device", device,
               "--threads", "1", "--preset", preset, "--frames", str(frames)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            out["ok"] = False
            out[preset] = {"error": proc.stderr[-2000:]}
        else:
            rep = json.loads(proc.stdout)
            keys = ("device", "frames", "total_s", "stages_s", "peak_cuda_mb", "peak_rss_mb", "warmup_s",
                    "mined")
            out[preset] = {k: rep.get(k) for k in keys}
        print(f"bench {preset}: {json.dumps(out[preset])}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "gpu_check"),
                    help="folder for gpu_check.json and pytest.txt (default: $OUT, else ./gpu_check)")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:1…; cpu checks this script itself")
    ap.add_argument("--skip-tests", action="store_true", help="do not run the test suite")
    ap.add_argument("--skip-bench", action="store_true", help="do not run the per-stage timing")
    ap.add_argument("--frames", type=int, default=100, help="frames of DAVIS cows to time (default 100)")
    args = ap.parse_args()
    if args.device != "cpu":
        require_cuda()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"env": env(args.device)}
    print(f"env: {json.dumps(report['env'])}", flush=True)
    report["smoke"] = smoke(args.device)  # first: seconds, and it says the most about CUDA
    if not args.skip_bench:
        report["bench"] = bench(args.frames, args.device)
    if not args.skip_tests:
        report["tests"] = run_tests(out)
        print(f"tests: {json.dumps(report['tests'])}", flush=True)
    ok = all(v.get("ok", True) for k, v in report.items() if k != "env")
    report["ok"] = ok
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    print(f"gpu_check: {'all passed' if ok else 'FAILED'}; report in {out / 'gpu_check.json'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
