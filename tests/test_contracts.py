"""Contract tests driven by the registries: every registered flow backend, spatial model, target, encoder and Θ —
built-in or from an installed plugin — is checked by vsodboost.testing's contract checks, with no hand-kept list. A component
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
from vsodboost.models import EncoderSpec
from vsodboost.testing import (build_for_contract, check_encoder, check_flow_backend, check_spatial_model,
                               check_target, check_theta, synthetic_clip, write_maps)


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


@pytest.mark.parametrize("name", _names("encoder"))
def test_every_encoder_keeps_the_contract(name):
    check_encoder(_build("encoder", name))


@pytest.mark.parametrize("name", _names("theta"))
def test_every_theta_keeps_the_contract(name):
    theta = _build("theta", name)
    try:
        check_theta(theta)
    except (MissingWeightsError, WeightsError) as exc:  # a Θ holding a network loads it on its first call
        pytest.skip(f"theta {name!r} needs weights not available offline: {exc}")


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


def _half_theta(images):
    import torch

    return torch.full((images.shape[0], *images.shape[-2:]), 0.5)


def _raw_theta(images):  # forgets Θ's [0, 1] range: the colour channel sum
    return images.float().sum(dim=1)


# resnet18 at out_indices (1, 2, 3, 4): strides 4..32, one stage short of what the U-Net needs
_SHORT_ENCODER = EncoderSpec("short_contract", "resnet18", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (1, 2, 3, 4))


def _plugin():
    mod = types.ModuleType("contract_plugin")

    @hookimpl
    def register_flows(register):
        register("zero_contract", _ZeroFlow)
        register("wrong_contract", _WrongShapeFlow)

    @hookimpl
    def register_thetas(register):
        register("half-contract", lambda: _half_theta)
        register("raw-contract", lambda: _raw_theta)

    @hookimpl
    def register_encoders(register):
        register("resnet_contract", EncoderSpec("resnet_contract", "resnet18", (0.485, 0.456, 0.406),
                                                (0.229, 0.224, 0.225), (0, 1, 2, 3, 4)))
        register("short_contract", _SHORT_ENCODER)

    mod.register_flows = register_flows  # type: ignore[attr-defined]
    mod.register_thetas = register_thetas  # type: ignore[attr-defined]
    mod.register_encoders = register_encoders  # type: ignore[attr-defined]
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


def test_a_newly_registered_theta_and_encoder_are_listed_for_the_contract_and_broken_ones_fail(monkeypatch):
    monkeypatch.delenv("VSODBOOST_LOAD_PLUGINS", raising=False)
    plugins.reset()
    try:
        plugins.register_plugin(_plugin(), name="contract_plugin")
        assert {"half-contract", "raw-contract"} <= set(plugins.thetas().names())
        assert {"resnet_contract", "short_contract"} <= set(plugins.encoders().names())
        check_theta(build_for_contract("theta", "half-contract"))
        with pytest.raises(AssertionError, match=r"Θ _raw_theta: values in \[\d.*expected finite in \[0, 1\]"):
            check_theta(build_for_contract("theta", "raw-contract"))
        check_encoder(build_for_contract("encoder", "resnet_contract"))
        with pytest.raises(AssertionError, match=r"'short_contract' declares strides \[4, 8, 16, 32\]"):
            check_encoder(build_for_contract("encoder", "short_contract"))
    finally:
        plugins.reset()


def test_a_plugin_registered_before_collection_gets_the_contract_tests(tmp_path):
    """The parametrisation reads the registries: a flow backend, Θ and encoder registered by a conftest (as an
    installed plugin would be by its entry point) are collected and checked; a broken one of each fails, by name."""
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

        def half(images):
            return torch.full((images.shape[0], *images.shape[-2:]), 0.5)

        @hookimpl
        def register_thetas(register):
            register("half-extra", lambda: half)
            register("batch-extra", lambda: lambda images: half(images)[:1])  # one map for the whole batch

        @hookimpl
        def register_encoders(register):
            from vsodboost.models import EncoderSpec
            norm = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
            register("resnet_extra", EncoderSpec("resnet_extra", "resnet18", *norm, (0, 1, 2, 3, 4)))
            register("short_extra", EncoderSpec("short_extra", "resnet18", *norm, (1, 2, 3, 4)))
    '''))
    (tmp_path / "conftest.py").write_text("import contract_extra\nfrom vsodboost import plugins\n"
                                          "plugins.register_plugin(contract_extra, name='contract_extra')\n")
    (tmp_path / "test_contracts.py").write_text(Path(__file__).read_text())
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "every and extra",
                          str(tmp_path / "test_contracts.py")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert "3 failed, 3 passed" in out.stdout, out.stdout[-2000:]
    for failed in ("flow_backend_keeps_the_contract[broken_extra]", "theta_keeps_the_contract[batch-extra]",
                   "encoder_keeps_the_contract[short_extra]"):
        assert f"FAILED test_contracts.py::test_every_{failed}" in out.stdout, out.stdout[-2000:]
