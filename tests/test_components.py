"""vsodboost._components: the Booster's parts built from objects or names and checked at construction, so a wrong
object fails there (not mid-buffer); the preset's config under the caller's; observers told only what they hear."""

from __future__ import annotations

import pytest
import torch

from conftest import FlowMagnitudeMQPM, tiny_spatial
from vsodboost._components import build_config, build_flow, notify
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.errors import InputError
from vsodboost.testing import ArrayTarget


def test_build_config_lays_the_callers_fields_over_the_presets_and_only_those():
    preset, cfg = build_config("fast", {"period": 3}, torch.device("cpu"))
    assert preset.name == "fast" and cfg.period == 3 and cfg.fusion == "geometric"  # the preset's, kept
    _, cfg = build_config("fast", BoostConfig(period=3), torch.device("cpu"))  # set fields only: not its defaults
    assert cfg.period == 3 and cfg.fusion == "geometric"
    _, default = build_config(None, None, torch.device("cpu"))
    assert default == build_config("quality", {}, torch.device("cpu"))[1]


@pytest.mark.parametrize("preset,config,match", [
    (["fast"], None, r"preset must be a preset name \(a string\)"),
    (None, [("period", 3)], r"config must be a BoostConfig or a mapping of its fields, got list"),
])
def test_build_config_refuses_the_wrong_types(preset, config, match):
    with pytest.raises(InputError, match=match):
        build_config(preset, config, torch.device("cpu"))


def test_build_flow_builds_a_registered_name_and_keeps_an_object():
    flow = build_flow("dis", torch.device("cpu"))
    assert hasattr(flow, "estimate") and type(flow).__name__ == "DISFlow"
    mine = object()
    assert build_flow(mine, torch.device("cpu")) is mine  # no `to`: used as it is


def test_notify_calls_the_hook_of_observers_that_define_it():
    heard = []

    class Mined:
        def on_mined(self, *args):
            heard.append(("mined", args))

    class Deaf:
        on_buffer = "not callable"

    notify([Mined(), Deaf(), object()], "on_mined", 1, 2)
    notify([Mined(), Deaf()], "on_buffer", 3)
    assert heard == [("mined", (1, 2))]


def test_target_by_name_without_its_root_is_refused():
    with pytest.raises(InputError, match=r"target 'precomputed' cannot be built from its name alone .*root"):
        Booster("precomputed", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(), device="cpu")


# ---------------------------------------------------------------------------------------------------------------
# components and names of the wrong type: refused at construction / load, not as an AttributeError mid-buffer
COMPONENT_CASES = [
    ("flow-int", {"flow": 3}, r"flow 3 \(int\) is not a flow backend: it needs an `estimate\(frames\)` method"),
    ("mqpm-int", {"mqpm": 3}, r"mqpm 3 \(int\) is not an MQPM: it needs a `predict\(flow_images\)` method; pass "
                              r"'default'"),
    ("spatial-int", {"spatial": 3}, r"spatial 3 \(int\) is not a spatial model: pass a torch nn.Module or a registry"),
    ("spatial-dict", {"spatial": {}}, r"spatial \{\} \(dict\) is not a spatial model"),
]


@pytest.mark.parametrize("kw,match", [c[1:] for c in COMPONENT_CASES], ids=[c[0] for c in COMPONENT_CASES])
def test_component_of_the_wrong_type_is_refused_at_construction(kw, match):
    kw = {"flow": "dis", "mqpm": FlowMagnitudeMQPM(), "spatial": tiny_spatial(), **kw}
    with pytest.raises(InputError, match=match):
        Booster(ArrayTarget({}), device="cpu", **kw)
