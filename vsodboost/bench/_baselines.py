"""The honest baselines of Table V: the pretrained spatial model with no fine-tuning ("zero-shot") and its fusion
with the target's maps, by every rule that needs no fine-tuning (the ``motion`` rule with the run's recorded motion
saliency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from ..config import BoostConfig
from ..datasets import SequenceData
from ._scores import _maps_in

__all__ = ["BASELINE_FUSIONS", "native_input_size"]


#: The ensembles the zero-shot baseline tries; the best-scoring one is Table V's zero-shot fusion row. ``motion``
#: weighs the untuned map against the target's by their agreement with the main run's motion saliency (``motion/``).
BASELINE_FUSIONS: tuple[str, ...] = ("motion", "mean", "geometric")


def native_input_size(model: Any, fallback: int) -> int:
    """The square input size a spatial model was trained at (``model.config.input_size``: U²-Net-p 320, the
    Lite0 U-Net 224), ``fallback`` when it does not say."""
    size = getattr(getattr(model, "config", None), "input_size", None)
    if isinstance(size, (tuple, list)) and size:
        size = size[0]
    return int(size) if isinstance(size, int) and size > 0 else fallback


def _zero_shot_baselines(out: Path, seqs: Sequence[SequenceData], spatial_of: Callable[[str], Any],
                         cfg: BoostConfig) -> tuple[Path, dict[str, Path], int, int]:
    """Write ``runs/zero_shot_<size>/<seq>/`` (the pretrained spatial model at its native input size, no
    fine-tuning, annotated frames) and ``runs/zero_shot_<size>_<fusion>/<seq>/`` (those maps fused with the
    recorded target maps, for each of :data:`BASELINE_FUSIONS`; ``motion`` with the recorded motion saliency, the
    mean where a frame has none): the strongest ensemble without fine-tuning, not one weakened by the Booster's
    fine-tuning size or precision (always float32: bf16 costs the untuned model, docs/booster.md). Resumable: a
    frame whose fused maps are there is not predicted again. Returns the zero-shot folder, the fused folder of each
    fusion, the input size and the number of frames predicted now."""
    import numpy as np
    import torch

    from ..fusion import fuse_maps, motion_weights
    from ..io import read_unit_map as read_target_map
    from ..io import write_map_atomic
    from ..spatial import predict_maps

    size = native_input_size(spatial_of(seqs[0].name), cfg.finetune.input_size) if seqs else 0
    zs = out / "runs" / f"zero_shot_{size}"
    fused = {f: out / "runs" / f"zero_shot_{size}_{f}" for f in BASELINE_FUSIONS}
    n_pred = 0
    for seq in seqs:
        for d in (zs, *fused.values()):
            (d / seq.name).mkdir(parents=True, exist_ok=True)
        video = seq.video()
        stems = set(seq.annotated)
        todo = [i for i, n in enumerate(video.names) if n in stems
                and not all((d / seq.name / f"{n}.png").is_file() for d in fused.values())]
        if not todo:
            continue
        model = spatial_of(seq.name)
        model_size = native_input_size(model, cfg.finetune.input_size)
        n_pred += len(todo)
        targets, motions = _maps_in(out / "target" / seq.name), _maps_in(out / "motion" / seq.name)
        for s in range(0, len(todo), cfg.finetune.predict_batch):
            idx = todo[s: s + cfg.finetune.predict_batch]
            frames = torch.stack([video.tensor(i, i + 1)[0] for i in idx])
            # float32 whatever the Booster computes in: untuned U²-Net-p loses .015 maxF on DAVIS in bf16
            maps = predict_maps(model, frames, input_size=model_size, autocast_mode="off")
            for i, m in zip(idx, maps.numpy()):
                n = video.names[i]
                write_map_atomic(zs / seq.name / f"{n}.png", m)
                t_file = targets.get(n)
                # the target's map as the Booster sees it (float, min-max normalised, frame size)
                t = read_target_map(t_file, m.shape) if t_file is not None else None
                w = 0.5
                if t is not None and n in motions:
                    ms = torch.from_numpy(read_target_map(motions[n], normalize=False))[None]
                    w = float(motion_weights(ms, torch.from_numpy(m)[None], torch.from_numpy(t)[None],
                                             np.array([True]), gain=cfg.fusion_gain, size=cfg.consistency_size)[0])
                for f, d in fused.items():
                    write_map_atomic(d / seq.name / f"{n}.png", fuse_maps(m, t, f, w))
    return zs, fused, size, n_pred
