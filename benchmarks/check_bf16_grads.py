"""Are bfloat16-autocast gradients on this machine a function of the inputs alone? (``finetune.autocast``)

Usage:
    OMP_NUM_THREADS=1 python benchmarks/check_bf16_grads.py [--models lite0_imagenet,u2netp] [--sizes 32,64,96,128,224,320]

For each spatial model and input size: fills the allocator with garbage (1e4 in float32 and bfloat16 blocks, then
frees it), runs one forward/backward of a fixed batch under ``torch.autocast(cpu, bfloat16)`` and repeats this
``--repeats`` times. Prints the largest gradient difference between repeats and whether every gradient was finite.
Anything but ``0.0 / True`` means a kernel read memory it never wrote. With torch 2.14.1 on an AVX512-BF16 CPU the
Lite0 U-Net at 64² gave differences of ~1e30 (and NaN when the garbage was NaN); every other cell was 0.0 / True from
96 up, which is why :data:`vsodboost.spatial.finetune.CPU_BF16_MIN_INPUT` is 96.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn


def grad_repeat_gap(model: nn.Module, size: int, *, repeats: int = 3, garbage: float = 1e4) -> tuple[float, bool]:
    """Largest |Δ| between the bf16-autocast gradients of ``repeats`` identical steps, and whether all were finite."""
    model.train()
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    grads = []
    for _ in range(repeats):
        junk = [torch.full((n,), garbage, dtype=dt) for dt in (torch.float32, torch.bfloat16)
                for n in (512, 2048, 3136, 6272, 10_000, 100_000, 1_000_000)]
        del junk
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        torch.sigmoid(logits.float()).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    gap = max(float((g - grads[0]).abs().max()) for g in grads[1:])
    return gap, all(bool(torch.isfinite(g).all()) for g in grads)


def main() -> None:
    from vsodboost.plugins import spatial_models

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lite0_imagenet,u2netp", help="registered spatial models, comma-separated")
    ap.add_argument("--sizes", default="32,64,96,128,224,320")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print("| model | input | max gradient Δ between repeats | all finite |")
    print("|---|---|---|---|")
    for name in args.models.split(","):
        model = spatial_models().create(name)
        for size in (int(s) for s in args.sizes.split(",")):
            gap, finite = grad_repeat_gap(model, size, repeats=args.repeats)
            print(f"| {name} | {size} | {gap:.3g} | {finite} |", flush=True)


if __name__ == "__main__":
    main()
