"""Average two U²-Net checkpoints of the same shape, weight by weight (a "model soup", as WiSE-FT interpolates a
fine-tuned model with the one it started from), and write the result as a U²-Net checkpoint loadable with
``--spatial PATH``. Its ``trained_on`` is the union of both parents', so ``vsodboost bench`` still warns on every
sequence either of them saw. Makes the soup row of ``vsodboost/weights/u2netp_davistr.md``:

    python scripts/average_u2net.py --a u2netp --b u2netp_davis --weight-b 0.5 --out soup.pt
"""

from __future__ import annotations

import argparse

import torch

from vsodboost._weights import sha256_file
from vsodboost.datasets import trained_on_of
from vsodboost.errors import InputError
from vsodboost.nets.u2net import load_u2net, save_u2net
from vsodboost.spatial._plugin import U2NETP_DAVIS_WEIGHTS, U2NETP_WEIGHTS

SHIPPED = {"u2netp": U2NETP_WEIGHTS, "u2netp_davis": U2NETP_DAVIS_WEIGHTS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="a shipped name (u2netp, u2netp_davis) or a U²-Net checkpoint")
    ap.add_argument("--b", required=True, help="the other one")
    ap.add_argument("--weight-b", type=float, default=0.5, help="b's share in [0, 1] (default 0.5)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if not 0.0 <= args.weight_b <= 1.0:
        raise SystemExit(f"--weight-b must be within [0, 1], got {args.weight_b}")
    paths = [SHIPPED.get(n, n) for n in (args.a, args.b)]
    a, b = (load_u2net(p) for p in paths)
    if a.config.to_dict() != b.config.to_dict():
        raise InputError(f"{args.a} and {args.b} are different networks ({a.config} vs {b.config}); "
                         "only two checkpoints of one architecture can be averaged")
    sa, sb = a.state_dict(), b.state_dict()
    w = args.weight_b
    a.load_state_dict({k: ((1 - w) * sa[k].float() + w * sb[k].float()).to(sa[k].dtype) for k in sa})
    entries = []
    for m in (a, b):
        got, _ = trained_on_of(getattr(m, "provenance", {}))
        entries += [e for e in got if e not in entries]
    meta = {"what": f"weight average: {1 - w:g} × {args.a} + {w:g} × {args.b}",
            "parents": [{"name": n, "file": str(p), "sha256": sha256_file(p)} for n, p in zip((args.a, args.b), paths)],
            "trained_on": entries, "torch": str(torch.__version__)}
    save_u2net(a.eval(), args.out, meta=meta)
    print(f"wrote {args.out} ({len(entries)} training sequences recorded)")


if __name__ == "__main__":
    main()
