"""Cross-validation folds over ../shared/data used by every evidence script (MQPM Table I, Booster Table V).

Fold k (k = 0, 1) holds out the DAVIS `val` sequences and the ViSal sequences at positions k, k+2, k+4… of their
sorted lists; a model trained for fold k never sees a held-out sequence, and a sequence is only ever evaluated by the
models of the fold that holds it out. DAVIS `train` (bear) is always in the training part.
"""

from __future__ import annotations

from pathlib import Path

from vsodboost.datasets import read_dataset

N_FOLDS = 2


def held_out(data: Path, fold: int) -> dict[str, list[str]]:
    davis = sorted(s.name for s in read_dataset(data / "DAVIS2016", "davis", split="val"))
    visal = sorted(s.name for s in read_dataset(data / "ViSal", "davsod"))
    return {"DAVIS2016": davis[fold::N_FOLDS], "ViSal": visal[fold::N_FOLDS]}


def fold_of(data: Path, sequence: str) -> int:
    for k in range(N_FOLDS):
        if any(sequence in v for v in held_out(data, k).values()):
            return k
    raise KeyError(f"{sequence} is in no held-out fold (a training-only sequence?)")


def weights_mapping(data: Path, pattern: str) -> dict[str, str]:
    """Sequence → the weights of the fold that holds it out, ``pattern`` with ``{k}`` for the fold: the JSON
    ``vsodboost bench --mqpm FILE`` / ``--spatial FILE`` reads (per-sequence weights in one report)."""
    return {s: pattern.format(k=k) for k in range(N_FOLDS) for v in held_out(data, k).values() for s in v}


if __name__ == "__main__":
    import argparse
    import json

    from vsodboost.datasets import find_shared_data

    ap = argparse.ArgumentParser(description="print the folds, or with --weights the bench weights mapping")
    ap.add_argument("--weights", metavar="PATTERN", help="e.g. CV/mqpm_fold{k}.pt: print sequence → weights as JSON "
                    "(vsodboost bench --mqpm/--spatial FILE)")
    args = ap.parse_args()
    root = find_shared_data()
    if args.weights:
        print(json.dumps(weights_mapping(root, args.weights), indent=1, sort_keys=True))
    else:
        for k in range(N_FOLDS):
            print(k, held_out(root, k))
