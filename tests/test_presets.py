"""Presets and BoostConfig objects compose: the preset's values, then only the fields the caller gave
(issue 22)."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
import torch

from conftest import FlowMagnitudeMQPM, tiny_spatial
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.config import FinetuneConfig
from vsodboost.presets import PRESETS
from conftest import resolved_on_cpu
from vsodboost.testing import ArrayTarget


class _StubMQPM:
    provenance = {"file": "stub"}

    def predict(self, flow_images: torch.Tensor):  # never called: these tests build Boosters only
        raise AssertionError


def _booster(**kw):
    return Booster(ArrayTarget({}), mqpm=_StubMQPM(), spatial=torch.nn.Conv2d(3, 1, 1), device="cpu", **kw)


def test_a_boostconfig_object_changes_only_its_given_fields_over_the_preset():
    b = _booster(preset="paper", config=BoostConfig(buffer_size=50))
    assert b.config.buffer_size == 50
    assert b.config.fusion == PRESETS["paper"].config["fusion"] == "replace"  # was "mean": preset dropped
    assert b.config.finetune.loss == "bce" and b.config.finetune.pseudo_gt == "soft"
    prov = b.provenance()
    assert prov["preset"] == "paper"
    assert prov["config"]["fusion"] == "replace" and prov["config"]["buffer_size"] == 50  # what ran
    assert prov["config"]["finetune"]["loss"] == "bce"


def test_a_field_named_at_its_default_value_still_wins_and_nested_finetune_merges():
    b = _booster(preset="paper", config=BoostConfig(fusion="mean", finetune=FinetuneConfig(iterations=3)))
    assert b.config.fusion == "mean"  # given explicitly, though equal to the default
    assert b.config.finetune.iterations == 3 and b.config.finetune.loss == "bce"  # the preset's loss stays
    b = _booster(preset="fast", config=BoostConfig(finetune={"lr": 1e-3}))
    assert b.config.finetune.lr == 1e-3 and b.config.finetune.deep_supervision is False
    assert b.config.fusion == "geometric"


def test_whole_configs_still_win_whole_and_the_merge_is_stable():
    # dataclasses.replace and a full dict give every field: such a config is taken as it is (as before)
    whole = dataclasses.replace(BoostConfig(), buffer_size=7)
    assert _booster(preset="paper", config=whole).config == resolved_on_cpu(whole)
    assert _booster(preset="quality", config=BoostConfig.paper()).config == resolved_on_cpu(BoostConfig.paper())
    # rebuilding a Booster from another's config (engines, bench) gives the same config, pickled or not
    first = _booster(preset="paper", config={"fusion": "mean"}).config
    assert first.fusion == "mean" and first.finetune.loss == "bce"
    again = _booster(preset="paper", config=pickle.loads(pickle.dumps(first))).config
    assert again == first


def test_predict_size_sets_the_prediction_size_apart_from_the_training_size():
    """finetune.predict_size: 0 predicts at input_size (every run before it), N at N² — the quality preset's 320
    is U²-Net-p's own size; a size that is not a multiple of 32 is refused."""
    import pytest as _pytest

    from vsodboost.config import FinetuneConfig
    from vsodboost.errors import InputError
    from vsodboost.presets import PRESETS

    assert FinetuneConfig().predict_args()["input_size"] == 224
    assert FinetuneConfig(predict_size=320).predict_args()["input_size"] == 320
    assert PRESETS["quality"].config["finetune"]["predict_size"] == 320
    with _pytest.raises(InputError, match="predict_size"):
        FinetuneConfig(predict_size=100)


def test_a_folder_written_before_predict_size_resumes_only_at_the_old_size():
    from vsodboost.runner import _ADDED_FIELDS

    same = _ADDED_FIELDS["finetune.predict_size"]
    assert same(0, None) and not same(320, None)


def test_a_callers_input_size_brings_the_prediction_size_with_it():
    from vsodboost.presets import PRESETS, merge_config

    q = PRESETS["quality"].config
    assert merge_config(q, {"finetune": {"iterations": 5}})["finetune"]["predict_size"] == 320
    assert "predict_size" not in merge_config(q, {"finetune": {"input_size": 64}})["finetune"]
    assert merge_config(q, {"finetune": {"input_size": 64, "predict_size": 96}})["finetune"]["predict_size"] == 96


def test_presets_choose_the_spatial_model_and_recipe_and_explicit_settings_win():
    from vsodboost.errors import UnknownNameError
    from vsodboost.nets.u2net import U2Net
    from vsodboost.presets import PRESETS

    target = ArrayTarget({})
    quality = Booster(target, mqpm=FlowMagnitudeMQPM(), device="cpu")
    assert isinstance(quality.spatial, U2Net)  # trains at 224², predicts at U²-Net-p's own 320², else the defaults
    # finetune.autocast "auto" is resolved for this machine when the Booster is built (bf16 only where native)
    assert quality.config == resolved_on_cpu(BoostConfig.from_dict({"finetune": {"predict_size": 320}}))
    assert quality.config.finetune.autocast in ("bf16", "off")
    assert quality.provenance()["preset"] == "quality"
    fast = Booster(target, mqpm=FlowMagnitudeMQPM(), preset="fast", device="cpu",
                   config={"period": 3, "finetune": {"iterations": 7}})
    assert not isinstance(fast.spatial, U2Net) and fast.spatial.provenance["sha256"]  # the shipped Lite0 U-Net
    assert fast.config.fusion == PRESETS["fast"].config["fusion"] == "geometric"
    assert (fast.config.period, fast.config.finetune.iterations) == (3, 7)  # explicit fields win...
    assert fast.config.finetune.deep_supervision is False  # ...and the preset's other fields stay
    paper = Booster(target, mqpm=FlowMagnitudeMQPM(), preset="paper", spatial=tiny_spatial(), device="cpu")
    assert paper.config.fusion == "replace" and paper.config.finetune.loss == "bce"
    assert not isinstance(paper.spatial, U2Net)  # an explicit spatial model wins over the preset's
    # the paper pretrains its spatial model on DAVIS-TR (Sec. V-C): `paper` loads the same shipped prior as `quality`
    own = Booster(target, mqpm=FlowMagnitudeMQPM(), preset="paper", device="cpu")
    assert own.spatial.provenance["sha256"] == quality.spatial.provenance["sha256"]
    assert "DAVIS2016-train" in json.dumps(own.spatial.provenance)
    assert resolved_on_cpu(BoostConfig.paper()) == paper.config  # the paper's configuration, also without a Booster
    assert (BoostConfig.paper().period, BoostConfig.paper().buffer_size) == (5, 100)
    with pytest.raises(UnknownNameError, match="quality"):
        Booster(target, mqpm=FlowMagnitudeMQPM(), preset="best", device="cpu")
