"""The one Registry class: register / get / create / list, name rules, duplicates, unknown names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsodboost import Registry
from vsodboost.errors import DuplicateNameError, InputError, UnknownNameError, VsodboostError


def _reg() -> Registry:
    reg = Registry("flow")
    reg.register("spynet", lambda **kw: ("spynet", kw), plugin="builtin", description="SPyNet", stride=32)
    reg.register("dis", lambda **kw: ("dis", kw), plugin="builtin")
    return reg


def test_register_get_create():
    reg = _reg()
    entry = reg.get("spynet")
    assert (entry.name, entry.plugin, entry.description) == ("spynet", "builtin", "SPyNet")
    assert entry.meta == {"stride": 32}
    assert reg.create("spynet", level=3) == ("spynet", {"level": 3})
    assert "dis" in reg and "pwcnet" not in reg and len(reg) == 2


def test_create_drops_none_kwargs_so_unset_options_keep_factory_defaults():
    reg = Registry("target")
    reg.register("m", lambda size=320, device="cpu": (size, device))
    assert reg.create("m", size=None, device=None) == (320, "cpu")
    assert reg.create("m", size=0) == (0, "cpu")  # falsy but not None: passed through


def test_create_passes_factory_errors_through():
    reg = Registry("target")
    reg.register("m", lambda *, size: size)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        reg.create("m", size=1, colour="red")


def test_duplicate_name_is_an_error_naming_both_plugins():
    reg = _reg()
    with pytest.raises(DuplicateNameError, match="'dis' is already registered by plugin 'builtin'.*'acme'"):
        reg.register("dis", lambda: None, plugin="acme")
    assert reg.get("dis").plugin == "builtin"  # the first registration is kept
    assert isinstance(DuplicateNameError("x"), (VsodboostError, ValueError))


def test_unknown_name_lists_available_names_and_is_a_keyerror():
    reg = _reg()
    with pytest.raises(UnknownNameError) as info:
        reg.get("pwc")
    msg = str(info.value)
    assert "unknown flow 'pwc'" in msg and "available: dis, spynet" in msg and "plugin" in msg
    assert not msg.startswith(("'", '"'))  # KeyError would quote the message
    with pytest.raises(KeyError):
        reg.create("pwc")
    assert "(none)" in str(pytest.raises(UnknownNameError, Registry("spatial").get, "x").value)


def test_list_and_names_are_natural_sorted():
    reg = Registry("target")
    for n in ("model10", "model2", "alpha", "model1"):
        reg.register(n, object)
    assert reg.names() == ["alpha", "model1", "model2", "model10"]
    assert [e.name for e in reg.list()] == reg.names() == list(reg)


def test_unregister():
    reg = _reg()
    reg.unregister("dis")
    assert "dis" not in reg
    with pytest.raises(UnknownNameError):
        reg.unregister("dis")
    reg.register("dis", object)  # the name is free again


@pytest.mark.parametrize("name", ["", "Caps", "has-dash", "dotted.tag", "1st", "_private", "sp ace", None, 3])
def test_invalid_names_are_refused(name):
    reg = Registry("target")
    with pytest.raises(InputError, match="not valid"):
        reg.register(name, object)
    assert len(reg) == 0


@pytest.mark.parametrize("name", ["border-contrast", "border-contrast-center", "a-1_b"])
def test_a_dashed_registry_takes_inner_dashes_and_a_plain_one_does_not(name):
    dashed = Registry("theta", dashes=True)
    dashed.register(name, object)
    assert dashed.names() == [name]
    with pytest.raises(InputError, match="letters, digits and '_', starting"):
        Registry("target").register(name, object)


@pytest.mark.parametrize("name", ["-lead", "trail-", "dou--ble", "Caps-x", "dot.ted"])
def test_a_dashed_registry_still_refuses_malformed_names(name):
    with pytest.raises(InputError, match="'_' or an inner '-'"):
        Registry("theta", dashes=True).register(name, object)


def test_factory_must_be_callable():
    with pytest.raises(InputError, match="'m': factory must be callable, got str"):
        Registry("target").register("m", "not a factory")


@given(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), unique=True, max_size=12))
def test_any_valid_names_round_trip(names):
    reg = Registry("target")
    for i, n in enumerate(names):
        reg.register(n, lambda i=i: i)
    assert sorted(reg.names()) == sorted(names)
    for i, n in enumerate(names):
        assert reg.create(n) == i
