"""vsodboost.identity: what the resume key and the target cache compare — a component's weights (state dict, else
provenance sha256, else repr) and a target's identity (its own ``identity()``, else type, repr and weights)."""

from __future__ import annotations

import pytest
import torch

from vsodboost.errors import TargetError
from vsodboost.identity import flow_identity, stable_repr, target_identity, weights_identity


class Plain:
    name = "plain"

    def __repr__(self):
        return f"<Plain at {hex(id(self))}>"


class WithNet(Plain):
    def __init__(self):
        self.net = torch.nn.Linear(2, 1)


def test_stable_repr_drops_addresses_and_hashes_long_reprs():
    assert stable_repr(Plain()) == stable_repr(Plain()) == "<Plain>"
    long = type("Long", (), {"__repr__": lambda self: "x" * 2000})()
    assert stable_repr(long).startswith("sha256:") and len(stable_repr(long)) == 7 + 64


def test_weights_identity_hashes_the_state_dict_then_the_provenance_then_the_repr():
    a = WithNet()
    before = weights_identity(a)
    assert before.startswith("state_dict:") and weights_identity(a) == before
    with torch.no_grad():
        a.net.weight += 1.0  # changed after loading: another identity
    assert weights_identity(a) != before
    p = Plain()
    p.provenance = {"sha256": "abc"}
    assert weights_identity(p) == "sha256:abc"
    assert weights_identity(Plain()) == "repr:<Plain>"
    assert flow_identity(Plain()) == "<Plain>" and flow_identity(a)["weights"] == weights_identity(a)


def test_target_identity_prefers_the_targets_own_and_checks_it_is_a_dict():
    own = Plain()
    own.identity = lambda: {"root": "/maps", "options": (1, 2)}
    assert target_identity(own) == {"name": "plain", "root": "/maps", "options": [1, 2]}  # as JSON gives it back
    generic = target_identity(WithNet())
    assert generic["type"].endswith("WithNet") and generic["weights"].startswith("state_dict:")
    assert "weights" not in target_identity(Plain())  # nothing to hash: type and repr say it all
    bad = Plain()
    bad.identity = lambda: "v1"
    with pytest.raises(TargetError, match=r"identity\(\) returned str; expected a dict"):
        target_identity(bad)
