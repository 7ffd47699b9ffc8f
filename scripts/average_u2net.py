"""Average two U²-Net checkpoints of the same shape, weight by weight (a "model soup", as WiSE-FT interpolates a
fine-tuned model with the one it started from), and write the result as a U²-Net checkpoint loadable with
``--spatial PATH``. Its ``trained_on`` is the union of both parents', so ``vsodboost bench`` still warns on every
sequence either of them saw. Makes the soup row of ``vsodboost/weights/u2netp_davistr.md``:

    python scripts/average_u2net.py --a u2netp --b u2netp_davis --weight-b 0.5 --out soup.pt
"""

from __future__ import annotations

import argparse

import torch

from vsodboost.datasets import trained_on_of
from vsodboost.errors import InputError
from vsodboost.nets.u2net import U2Net, save_u2net
from vsodboost.spatial import load_spatial


def _kind(m: torch.nn.Module) -> str:
    return m.config.variant if isinstance(m, U2Net) else type(m).__name__


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="a spatial model's registry name (u2netp, u2netp_davis) or a U²-Net "
                    "checkpoint")
    ap.add_argument("--b", required=True, help="the other one")
    ap.add_argument("--weight-b", type=float, default=0.5, help="b's share in [0, 1] (default 0.5)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if not 0.0 <= args.weight_b <= 1.0:
        raise SystemExit(f"--weight-b must be within [0, 1], got {args.weight_b}")
    a, b = (load_spatial(n) for n in (args.a, args.b))
    if not (isinstance(a, U2Net) and isinstance(b, U2Net)) or a.config.to_dict() != b.config.to_dict():
        raise InputError(f"{args.a} and {args.b} are different networks ({_kind(a)} vs {_kind(b)}); "
                         "only two checkpoints of one architecture can be averaged")
    sa, sb = a.state_dict(), b.state_dict()
    w = args.weight_b
    a.load_state_dict({k: ((1 - w) * sa[k].float() + w * sb[k].float()).to(sa[k].dtype) for k in sa})
    entries = []
    for m in (a, b):
        got, _ = trained_on_of(getattr(m, "provenance", {}))
        entries += [e for e in got if e not in entries]
    meta = {"what": f"weight average: {1 - w:g} × {args.a} + {w:g} × {args.b}",
            "parents": [{"name": n, "file": m.provenance["file"], "sha256": m.provenance["sha256"]}
                        for n, m in zip((args.a, args.b), (a, b))],
            "trained_on": entries, "torch": str(torch.__version__)}
    save_u2net(a.eval(), args.out, meta=meta)
    print(f"wrote {args.out} ({len(entries)} training sequences recorded)")


if __name__ == "__main__":
    main()
