"""vsodboost.config: BoostConfig and FinetuneConfig are frozen and checked once, at construction (type, range,
finiteness, choices), from keyword arguments and from dicts alike."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, get_args, get_origin, get_type_hints

import pytest

from vsodboost.config import BoostConfig, FinetuneConfig
from vsodboost.errors import InputError


# ---------------------------------------------------------------------------------------------------------------
# configuration fields: type (bool is not an int), range, NaN/inf — refused at construction
BOOST_CONFIG_CASES = [
    ("buffer_size=0", {"buffer_size": 0}, r"buffer_size must be ≥ 1, got 0"),
    ("buffer_size<0", {"buffer_size": -3}, r"buffer_size must be ≥ 1"),
    ("buffer_size-str", {"buffer_size": "3"}, r"buffer_size must be an integer, got '3' \(str\)"),
    ("buffer_size-float", {"buffer_size": 2.0}, r"buffer_size must be an integer, got 2.0"),
    ("buffer_size-bool", {"buffer_size": True}, r"buffer_size must be an integer, got True \(bool\)"),
    ("period=0", {"period": 0}, r"period \(1/T\) must be ≥ 1"),
    ("period=2.5", {"period": 2.5}, r"period \(1/T\) must be an integer, got 2.5.*period=5"),
    ("period-None", {"period": None}, r"period \(1/T\) must be an integer, got None"),
    ("hq_threshold-nan", {"hq_threshold": math.nan}, r"hq_threshold must be a finite number, got nan"),
    ("hq_threshold-inf", {"hq_threshold": math.inf}, r"hq_threshold must be a finite number, got inf"),
    ("hq_threshold>1", {"hq_threshold": 1.5}, r"hq_threshold must be in \[0.0, 1.0\], got 1.5"),
    ("hq_threshold-str", {"hq_threshold": "0.5"}, r"hq_threshold must be a number, got '0.5'"),
    ("hq_threshold-bool", {"hq_threshold": True}, r"hq_threshold must be a number, got True"),
    ("flow_last-unknown", {"flow_last": "forward"}, r"flow_last must be one of 'backward', 'repeat'"),
    ("flow_max_side<0", {"flow_max_side": -5}, r"flow_max_side must be ≥ 0, got -5"),
    ("flow_max_side-tiny", {"flow_max_side": 8}, r"flow_max_side must be 0 \(full resolution\) or ≥ 16"),
    ("flow_max_side-float", {"flow_max_side": 480.0}, r"flow_max_side must be an integer"),
    ("consistency_size=0", {"consistency_size": 0}, r"consistency_size must be ≥ 16, got 0"),
    ("consistency_size-float", {"consistency_size": 1.5}, r"consistency_size must be an integer"),
    ("fusion-unknown", {"fusion": "max"}, r"fusion must be one of 'motion', 'mean', 'geometric', 'replace', got 'max'"),
    ("fusion-None", {"fusion": None}, r"fusion must be one of"),
    ("finetune-str", {"finetune": "fast"}, r"finetune must be a FinetuneConfig or a dict of its fields, got str"),
    ("finetune-unknown-key", {"finetune": {"lrr": 1e-4}}, r"unknown finetune keys \['lrr'\]; known: .*'lr'"),
]


@pytest.mark.parametrize("kwargs,match", [c[1:] for c in BOOST_CONFIG_CASES], ids=[c[0] for c in BOOST_CONFIG_CASES])
def test_boost_config_refuses(kwargs, match):
    with pytest.raises(InputError, match=match):
        BoostConfig(**kwargs)


FINETUNE_CASES = [
    ("iterations<0", {"iterations": -1}, r"finetune.iterations must be ≥ 0, got -1"),
    ("iterations-float", {"iterations": 1.5}, r"finetune.iterations must be an integer"),
    ("batch_size=0", {"batch_size": 0}, r"finetune.batch_size must be ≥ 1"),
    ("lr=0", {"lr": 0}, r"finetune.lr must be in \(0.0, inf\], got 0.0 \(1e-4 is the default\)"),
    ("lr<0", {"lr": -1e-4}, r"finetune.lr must be in \(0.0, inf\]"),
    ("lr-nan", {"lr": math.nan}, r"finetune.lr must be a finite number, got nan"),
    ("lr-inf", {"lr": math.inf}, r"finetune.lr must be a finite number, got inf"),
    ("lr-str", {"lr": "1e-4"}, r"finetune.lr must be a number, got '1e-4' \(str\)"),
    ("weight_decay<0", {"weight_decay": -1.0}, r"finetune.weight_decay must be in \[0.0, inf\]"),
    ("input_size-not-32x", {"input_size": 100}, r"finetune.input_size must be a multiple of 32 and ≥ 64, got 100"),
    ("input_size-too-small", {"input_size": 32}, r"finetune.input_size must be ≥ 64, got 32"),
    ("input_size-bool", {"input_size": True}, r"finetune.input_size must be an integer, got True"),
    ("hflip-int", {"hflip": 1}, r"finetune.hflip must be true or false, got 1 \(int\)"),
    ("hflip-str", {"hflip": "yes"}, r"finetune.hflip must be true or false, got 'yes'"),
    ("scale_jitter=1", {"scale_jitter": 1.0}, r"finetune.scale_jitter must be in \[0.0, 1.0\), got 1.0"),
    ("scale_jitter<0", {"scale_jitter": -0.1}, r"finetune.scale_jitter must be in \[0.0, 1.0\)"),
    ("loss-unknown", {"loss": "mse"}, r"finetune.loss must be one of 'bce', 'bce\+iou', got 'mse'"),
    ("pseudo_gt-unknown", {"pseudo_gt": "hard"}, r"finetune.pseudo_gt must be one of 'soft', 'otsu', 'blend'"),
    ("train_layers-unknown", {"train_layers": "encoder"}, r"finetune.train_layers must be one of 'all', 'decoder'"),
    ("deep_supervision-None", {"deep_supervision": None}, r"finetune.deep_supervision must be true or false"),
    ("grad_clip-nan", {"grad_clip": math.nan}, r"finetune.grad_clip must be a finite number"),
    ("grad_clip<0", {"grad_clip": -1.0}, r"finetune.grad_clip must be in \[0.0, inf\].*0 disables"),
    ("predict_batch=0", {"predict_batch": 0}, r"finetune.predict_batch must be ≥ 1"),
]


@pytest.mark.parametrize("kwargs,match", [c[1:] for c in FINETUNE_CASES], ids=[c[0] for c in FINETUNE_CASES])
def test_finetune_config_refuses_directly_and_inside_boost_config(kwargs, match):
    with pytest.raises(InputError, match=match):
        FinetuneConfig(**kwargs)
    with pytest.raises(InputError, match=match):
        BoostConfig.from_dict({"finetune": kwargs})


FROM_DICT_CASES = [
    ("list", [1, 2], r"a config must be a mapping \(dict / JSON object\) of BoostConfig fields, got list"),
    ("str", "period=5", r"must be a mapping .* got str; e.g. \{\"period\": 5"),
    ("None", None, r"must be a mapping .* got NoneType"),
    ("unknown-key", {"perod": 5}, r"unknown config keys \['perod'\]; known: .*'period'"),
]


@pytest.mark.parametrize("d,match", [c[1:] for c in FROM_DICT_CASES], ids=[c[0] for c in FROM_DICT_CASES])
def test_from_dict_refuses(d, match):
    with pytest.raises(InputError, match=match):
        BoostConfig.from_dict(d)


def test_config_cannot_change_after_construction_and_a_replaced_field_is_checked_again():
    import dataclasses

    cfg = BoostConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.buffer_size = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.finetune.lr = 1.0  # type: ignore[misc]
    with pytest.raises(InputError, match="buffer_size must be ≥ 1, got 0"):
        dataclasses.replace(cfg, buffer_size=0)
    assert dataclasses.replace(cfg, period=3).period == 3 and cfg.period == 5


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(InputError, match="unknown config keys"):
        BoostConfig.from_dict({"perod": 5})
    with pytest.raises(InputError):
        BoostConfig(fusion="max")
    with pytest.raises(InputError):
        BoostConfig(finetune={"input_size": 100})


@pytest.mark.parametrize("cls,name", [(c, f.name) for c in (BoostConfig, FinetuneConfig) for f in
                                      dataclasses.fields(c) if get_origin(get_type_hints(c)[f.name]) is Literal])
def test_every_literal_field_accepts_its_choices_and_refuses_others_by_name(cls, name):
    """Each choice field is checked against its own annotation: every listed value builds, another is refused with
    the field's name and the allowed values (the annotation is the one home of the choices)."""
    choices = get_args(get_type_hints(cls)[name])
    for value in choices:
        assert getattr(cls(**{name: value}), name) == value
    with pytest.raises(InputError, match=name) as exc:
        cls(**{name: "no-such-choice"})
    assert all(repr(v) in str(exc.value) for v in choices)
