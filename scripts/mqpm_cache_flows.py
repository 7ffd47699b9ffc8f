"""Compute (or verify) the DIS flow cache of every annotated frame in ../shared/data (DAVIS all + ViSal)."""
import logging, sys, time
from vsodboost.datasets import find_shared_data
from vsodboost.mqpm.data import build_flow_sets

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
root = find_shared_data()
t = time.time()
sets = build_flow_sets([root / "DAVIS2016", root / "ViSal"], "dis")
print(f"{len(sets)} sequences, {sum(len(s) for s in sets)} frames, {time.time() - t:.0f} s", flush=True)
