"""``vsodboost bench``: boost every sequence of a dataset, score target and boosted maps, write a report.

The application in modules: :mod:`._driver` (``run_bench``: the runs on an engine, the report),
:mod:`._runs` (the recording and random-frames Boosters), :mod:`._scores` (report blocks, gains, subsets),
:mod:`._tables` (Tables I, III, VII, Fig. 10), :mod:`._baselines` (zero-shot rows), :mod:`._provenance`
(weights, models, versions), :mod:`._report` / :mod:`._figures` (markdown, HTML, plots, videos); the command
line is :mod:`vsodboost.commands.bench`.

Layout of ``out``::

    boosted/<seq>/<stem>.png + vsodboost.json   the Booster's maps (resumable state per sequence)
    target/<seq>/<stem>.png                     the target's maps (published files mirrored byte for byte)
    motion/<seq>/, theta/<seq>/                 MQPM and Θ motion saliency maps (flow resolution)
    spatial/<seq>/                              the fine-tuned spatial model's own maps (= fusion "replace")
    runs/<variant>/<seq>/                       Table II (T sweep), III (MS rows, control), VI (flow backends)
    plots/, vis/, videos/                       PR curves, per-sequence gains, side-by-side frames and videos
    report.json, report.md, report.html         report.html: the tables, plots and videos on one page

Every score comes from :func:`vsodboost.metrics.evaluate_folders` (pysodmetrics conventions; the same code as
``vsodboost eval``), on annotated frames only; "frame-averaged" means every annotated frame weighs the same,
"video-averaged" means per-sequence summaries averaged over sequences. The protocols:

- ``table1``: the target's metrics (maxF, meanF, adpF, S, MAE) on frames the MQPM marks HQ vs LQ (annotated frames,
  frame-averaged).
- ``table2``: boosted metrics for each T = 1/period (``periods``).
- ``table3``: the paper's component rows — MS = Θ(OF), MS−MQPM and MS+MQPM (MS as pseudo-GT, no fusion),
  MS+MQPM+target — and ours: the control (random frames, target pseudo-GT, same fusion) and the MQPM's own map
  (rows defined in :data:`TABLE3_ROWS`).
- ``table5``: target vs boosted, overall and per sequence, with signed gains; the paper's output (``replace``: the
  fine-tuned spatial model alone, recorded by the same run) beside the configured fusion; plus the honest baselines
  (unless ``baselines=False``): the pretrained spatial model alone with no fine-tuning ("zero-shot"), and that
  zero-shot map fused with the target's ("zero-shot fusion" — plain ensembling; by the Booster's fusion, or
  ``geometric`` when the Booster replaces the target's map). Fine-tuning is only worth its time where the boosted
  row beats the zero-shot fusion row.
- ``table6``: boosted metrics for each flow backend (``flows``).
- ``table7``: the boosted maps on the mined (training) frames vs all frames, and the target's on both (Sec. VI-I).
- ``table8``: seconds per stage, end-to-end frames per second and the inference-only FPS of the paper.
- ``fig10``: which frames get mined, by the target's quality rank (Sec. VI-F), per sequence and averaged.
"""

from __future__ import annotations

from ._baselines import BASELINE_FUSIONS, native_input_size
from ._driver import DEFAULT_FLOWS, DEFAULT_PERIODS, PROTOCOLS, run_bench
from ._provenance import in_sample_check, read_weights_table
from ._scores import REPORT_KEYS, block_of, evaluate_subset, gain_of, hq_of, mined_of
from ._tables import TABLE1_DRAWS, TABLE1_LEVEL, TABLE3_ROWS, fig10, table1, table1_gap_text, table7

__all__ = ["run_bench", "table1", "table7", "fig10", "block_of", "gain_of", "mined_of", "hq_of", "evaluate_subset",
           "TABLE1_DRAWS", "TABLE1_LEVEL", "table1_gap_text", "native_input_size", "read_weights_table", "in_sample_check", "PROTOCOLS", "REPORT_KEYS", "TABLE3_ROWS",
           "DEFAULT_PERIODS", "DEFAULT_FLOWS", "BASELINE_FUSIONS"]
