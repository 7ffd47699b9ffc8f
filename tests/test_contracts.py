"""Contract tests driven by the registries: every registered flow backend, spatial model and target — built-in or
from an installed plugin — is checked by vsodboost.testing's contract checks, with no hand-kept list. A component
that needs weights absent here is skipped with the reason; one registered later is tested the same way (below)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from vsodboost import hookimpl, plugins
from vsodboost.errors import MissingWeightsError, WeightsError
from vsodboost.testing import (build_for_contract, check_flow_backend, check_spatial_model, check_target,
                               synthetic_clip, write_maps)


def _names(kind: str) -> list[str]:
    return plugins.registry(kind).names()  # at collection: built-ins, installed plugins, and any registered so far


def _build(kind: str, name: str, maps_root=None):
    try:
        return build_for_contract(kind, name, maps_root)
    except (MissingWeightsError, WeightsError) as exc:  # e.g. vgg16's ImageNet weights, offline
        pytest.skip(f"{kind} {name!r} needs weights not available offline: {exc}")


@pytest.fixture(scope="module")
def maps_root(tmp_path_factory):
    """Maps of the contract clip ('clip', frames 00000…) for maps-mode targets."""
    _, _, target = synthetic_clip(4, h=48, w=64, seed=0)
    return write_maps(tmp_path_factory.mktemp("maps"), "clip", target)


@pytest.mark.parametrize("name", _names("flow"))
def test_every_flow_backend_keeps_the_contract(name):
    check_flow_backend(_build("flow", name))


@pytest.mark.parametrize("name", _names("spatial"))
def test_every_spatial_model_keeps_the_contract(name):
    check_spatial_model(_build("spatial", name))


@pytest.mark.parametrize("name", _names("target"))
def test_every_target_keeps_the_contract(name, maps_root):
    check_target(_build("target", name, maps_root))


# -- a component registered later is found and checked like the built-ins ----------------------------------------
class _ZeroFlow:
    name = "zero_contract"

    def to(self, device):
        return self

    def estimate(self, frames):
        import torch

        return torch.zeros(frames.shape[0] - 1, 2, *frames.shape[-2:])


class _WrongShapeFlow(_ZeroFlow):
    name = "wrong_contract"

    def estimate(self, frames):
        import torch

        return torch.zeros(frames.shape[0], 2, 4, 4)


def _plugin():
    mod = types.ModuleType("contract_plugin")

    @hookimpl
    def register_flows(register):
        register("zero_contract", _ZeroFlow)
        register("wrong_contract", _WrongShapeFlow)

    mod.register_flows = register_flows  # type: ignore[attr-defined]
    return mod


def test_a_newly_registered_backend_is_listed_for_the_contract_and_a_broken_one_fails(monkeypatch):
    monkeypatch.delenv("VSODBOOST_LOAD_PLUGINS", raising=False)
    plugins.reset()
    try:
        plugins.register_plugin(_plugin(), name="contract_plugin")
        names = plugins.flows().names()
        assert {"zero_contract", "wrong_contract"} <= set(names)  # what the parametrisation above iterates
        check_flow_backend(build_for_contract("flow", "zero_contract"))
        with pytest.raises(AssertionError, match=r"wrong_contract.estimate gave \(3, 2, 4, 4\)"):
            check_flow_backend(build_for_contract("flow", "wrong_contract"))
    finally:
        plugins.reset()


def test_a_plugin_registered_before_collection_gets_the_contract_tests(tmp_path):
    """The parametrisation reads the registry: a backend registered by a conftest (as an installed plugin would be
    by its entry point) is collected and checked; a broken one fails, by name."""
    (tmp_path / "contract_extra.py").write_text(textwrap.dedent('''
        import torch
        from vsodboost import hookimpl

        class Zero:
            name = "zero_extra"
            def to(self, device):
                return self
            def estimate(self, frames):
                return torch.zeros(frames.shape[0] - 1, 2, *frames.shape[-2:])

        class Broken(Zero):
            name = "broken_extra"
            def estimate(self, frames):
                return torch.zeros(1, 2, 4, 4)

        @hookimpl
        def register_flows(register):
            register("zero_extra", Zero)
            register("broken_extra", Broken)
    '''))
    (tmp_path / "conftest.py").write_text("import contract_extra\nfrom vsodboost import plugins\n"
                                          "plugins.register_plugin(contract_extra, name='contract_extra')\n")
    (tmp_path / "test_contracts.py").write_text(Path(__file__).read_text())
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "every_flow and extra",
                          str(tmp_path / "test_contracts.py")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert "1 failed, 1 passed" in out.stdout, out.stdout[-2000:]
    assert "FAILED test_contracts.py::test_every_flow_backend_keeps_the_contract[broken_extra]" in out.stdout
