"""Plugin loading: built-ins through the hooks, third-party entry points, broken plugins, VSODBOOST_LOAD_PLUGINS,
and the example plugin in examples/custom_adapter installed for real (into a temporary folder, not the venv)."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import vsodboost
from vsodboost import adapters, cli, plugins
from vsodboost.errors import DuplicateNameError, PluginError, UnknownNameError
from vsodboost.plugins import PluginLoadWarning
from vsodboost.target import TargetModel, check_target_output
from vsodboost.video import load_video

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "custom_adapter"
BUILTIN_TARGETS = {"precomputed", "ssav", "mga", "cos", "lsti", "pcsa"}


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch):
    """Every test starts and ends with a fresh plugin manager and no plugin filter."""
    monkeypatch.delenv("VSODBOOST_LOAD_PLUGINS", raising=False)
    plugins.reset()
    yield
    plugins.reset()


def _plugin_module(name: str, body: str) -> types.ModuleType:
    """A plugin module made from source (as a third party would write it)."""
    mod = types.ModuleType(name)
    exec(textwrap.dedent(body), mod.__dict__)
    return mod


def _make_dist(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write an installed distribution by hand: ``<dist>-0.1.dist-info`` with entry points, plus its modules."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    eps = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[vsodboost]\n{eps}")
    for modname, src in modules.items():
        (site / f"{modname}.py").write_text(textwrap.dedent(src))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A temporary site folder on sys.path; modules imported from it are forgotten afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        mod = sys.modules.get(name)
        if getattr(mod, "__file__", None) and str(folder) in str(mod.__file__):
            del sys.modules[name]


GOOD_PLUGIN = """
    import vsodboost

    class Const:
        def __init__(self, value=0.5):
            self.name = "{name}"
            self.value = value

        def predict(self, video):
            import numpy as np
            return [np.full(video.size, self.value, np.float32) for _ in range(len(video))]

    @vsodboost.hookimpl
    def register_targets(register):
        register("{name}", Const, description="constant maps")
"""


# -- built-ins --------------------------------------------------------------------------------------------------
def test_builtins_register_through_the_same_hook():
    reg = plugins.targets()
    assert BUILTIN_TARGETS <= set(reg.names())
    for name in BUILTIN_TARGETS:
        assert reg.get(name).plugin == "vsodboost.adapters._builtin"
    pm = plugins.get_plugin_manager()
    assert pm.project_name == "vsodboost"
    impl_plugins = {pm.get_name(i.plugin) for i in pm.hook.register_targets.get_hookimpls()}
    assert "vsodboost.adapters._builtin" in impl_plugins
    for hook in ("register_targets", "register_flows", "register_spatial_models", "register_encoders",
                 "register_thetas"):
        assert hasattr(pm.hook, hook)


def test_registry_kinds_and_unknown_kind():
    assert plugins.registry("target") is plugins.targets()
    assert plugins.registry("flow") is plugins.flows()
    assert plugins.registry("spatial") is plugins.spatial_models()
    assert plugins.registry("encoder") is plugins.encoders()
    assert plugins.registry("theta") is plugins.thetas()
    assert plugins.encoders().get("vgg16").plugin == "vsodboost.models._plugin"
    assert plugins.thetas().get("border-contrast-center").plugin == "vsodboost.mqpm._plugin"
    with pytest.raises(PluginError, match="unknown registry kind 'model'.*encoder.*flow.*spatial.*target.*theta"):
        plugins.registry("model")


def test_hookimpl_marker_is_the_projects():
    assert vsodboost.hookimpl.project_name == "vsodboost"


# -- run-time plugins (register_plugin) ----------------------------------------------------------------------
def test_register_plugin_adds_a_target_visible_everywhere(clip_factory):
    mod = _plugin_module("const_plugin", GOOD_PLUGIN.format(name="constmodel"))
    plugins.register_plugin(mod, name="const_plugin")
    try:
        entry = plugins.targets().get("constmodel")
        assert entry.plugin == "const_plugin" and entry.description == "constant maps"
        assert "constmodel" in adapters.available()
        folder, _ = clip_factory(n=3)
        video = load_video(folder)
        target = adapters.constmodel(value=0.25)  # resolved through the registry by attribute
        assert isinstance(target, TargetModel)
        maps = check_target_output(target.predict(video), video, target)
        assert all(float(m.mean()) == pytest.approx(0.25) for m in maps)
        assert adapters.create("constmodel", value=0.75).value == 0.75
    finally:
        plugins.unregister_plugin("const_plugin")
    assert "constmodel" not in plugins.targets()
    with pytest.raises(AttributeError, match="no target 'constmodel'.*precomputed"):
        adapters.constmodel  # noqa: B018


def test_plugin_can_register_flows_and_spatial_models():
    mod = _plugin_module("multi_plugin", """
        import vsodboost

        @vsodboost.hookimpl
        def register_flows(register):
            register("zero_flow", lambda: "flow")

        @vsodboost.hookimpl
        def register_spatial_models(register):
            register("tiny_spatial", lambda: "spatial", input_size=64)
    """)
    plugins.register_plugin(mod, name="multi_plugin")
    try:
        assert plugins.flows().create("zero_flow") == "flow"
        entry = plugins.spatial_models().get("tiny_spatial")
        assert entry.plugin == "multi_plugin" and entry.meta == {"input_size": 64}
        assert "zero_flow" not in plugins.targets()
    finally:
        plugins.unregister_plugin("multi_plugin")


def test_plugin_duplicating_a_builtin_name_is_skipped_with_a_warning():
    """A third-party plugin must never take a built-in's name, nor take the SDK down by trying."""
    mod = _plugin_module("dup_plugin", GOOD_PLUGIN.format(name="ssav"))
    plugins.register_plugin(mod, name="dup_plugin")
    try:
        with pytest.warns(PluginLoadWarning, match="dup_plugin.*'ssav'"):
            reg = plugins.targets()
        assert reg.get("ssav").plugin == "vsodboost.adapters._builtin"
        assert BUILTIN_TARGETS <= set(reg.names())
    finally:
        plugins.unregister_plugin("dup_plugin")


def test_two_plugins_registering_the_same_name_first_one_wins():
    first = _plugin_module("first_plugin", GOOD_PLUGIN.format(name="samename"))
    second = _plugin_module("second_plugin", GOOD_PLUGIN.format(name="samename"))
    plugins.register_plugin(first, name="first_plugin")
    plugins.register_plugin(second, name="second_plugin")
    try:
        with pytest.warns(PluginLoadWarning, match="second_plugin.*already registered by plugin 'first_plugin'"):
            reg = plugins.targets()
        assert reg.get("samename").plugin == "first_plugin"
    finally:
        plugins.unregister_plugin("second_plugin")
        plugins.unregister_plugin("first_plugin")


def test_plugin_whose_hook_raises_is_skipped_with_a_warning():
    mod = _plugin_module("raising_plugin", """
        import vsodboost

        @vsodboost.hookimpl
        def register_targets(register):
            register("half_registered", lambda: None)
            raise RuntimeError("model zoo unreachable")
    """)
    plugins.register_plugin(mod, name="raising_plugin")
    try:
        with pytest.warns(PluginLoadWarning, match="raising_plugin.*RuntimeError.*model zoo unreachable"):
            reg = plugins.targets()
        assert BUILTIN_TARGETS <= set(reg.names())
    finally:
        plugins.unregister_plugin("raising_plugin")


@pytest.mark.parametrize("bad_name", ["Bad-Name", "my.model", "", "9lives"])
def test_register_callback_validates_names(bad_name):
    mod = _plugin_module("badname_plugin", f"""
        import vsodboost

        @vsodboost.hookimpl
        def register_targets(register):
            register({bad_name!r}, lambda: None)
    """)
    plugins.register_plugin(mod, name="badname_plugin")
    try:
        with pytest.warns(PluginLoadWarning, match="badname_plugin.*not valid"):
            reg = plugins.targets()
        assert bad_name not in reg and "precomputed" in reg
    finally:
        plugins.unregister_plugin("badname_plugin")


def test_register_callback_rejects_non_callable_factory():
    mod = _plugin_module("noncallable_plugin", """
        import vsodboost

        @vsodboost.hookimpl
        def register_targets(register):
            register("notcallable", 42)
    """)
    plugins.register_plugin(mod, name="noncallable_plugin")
    try:
        with pytest.warns(PluginLoadWarning, match="noncallable_plugin.*must be callable.*int"):
            reg = plugins.targets()
        assert "notcallable" not in reg
    finally:
        plugins.unregister_plugin("noncallable_plugin")


# -- entry points ------------------------------------------------------------------------------------------------
def test_entry_point_plugin_is_discovered(site):
    _make_dist(site, "acme-vsod", {"acme": "acme_vsod"}, {"acme_vsod": GOOD_PLUGIN.format(name="acme")})
    reg = plugins.targets()
    assert reg.get("acme").plugin == "acme"
    assert adapters.acme().name == "acme"


def test_broken_plugin_warns_naming_it_and_sdk_keeps_working(site, clip_factory, recwarn):
    _make_dist(site, "broken-vsod", {"broken": "broken_vsod"},
               {"broken_vsod": "raise ImportError('needs libfoo.so')\n"})
    _make_dist(site, "acme-vsod", {"acme": "acme_vsod"}, {"acme_vsod": GOOD_PLUGIN.format(name="acme")})
    reg = plugins.targets()
    msgs = [str(w.message) for w in recwarn if issubclass(w.category, PluginLoadWarning)]
    assert len(msgs) == 1, msgs
    assert "'broken'" in msgs[0] and "broken-vsod" in msgs[0] and "needs libfoo.so" in msgs[0]
    assert "acme" in reg and BUILTIN_TARGETS <= set(reg.names())
    # the SDK still works end to end: a built-in adapter on a clip
    folder, _ = clip_factory(n=2)
    maps_root = folder.parent / "maps"
    shutil.copytree(folder, maps_root / folder.name)
    video = load_video(folder)
    out = check_target_output(adapters.create("precomputed", root=maps_root).predict(video), video, "precomputed")
    assert len(out) == 2 and all(m is not None for m in out)


def test_broken_plugin_with_a_syntax_error_and_a_missing_module(site):
    _make_dist(site, "bad-syntax", {"badsyntax": "bad_syntax"}, {"bad_syntax": "def oops(:\n"})
    _make_dist(site, "ghost", {"ghost": "ghost_module_that_does_not_exist"}, {})
    with pytest.warns(PluginLoadWarning) as record:
        reg = plugins.targets()
    text = "\n".join(str(w.message) for w in record)
    assert "'badsyntax'" in text and "SyntaxError" in text
    assert "'ghost'" in text and "ModuleNotFoundError" in text
    assert "precomputed" in reg


def test_load_plugins_filter_by_entry_point_and_distribution(site, monkeypatch):
    _make_dist(site, "acme-vsod", {"acme": "acme_vsod"}, {"acme_vsod": GOOD_PLUGIN.format(name="acme")})
    _make_dist(site, "other-vsod", {"other": "other_vsod"}, {"other_vsod": GOOD_PLUGIN.format(name="other")})
    _make_dist(site, "broken-vsod", {"broken": "broken_vsod"}, {"broken_vsod": "raise RuntimeError('boom')\n"})

    monkeypatch.setenv("VSODBOOST_LOAD_PLUGINS", "acme")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)  # the broken one is not even imported
        names = set(plugins.targets().names())
    assert "acme" in names and "other" not in names and BUILTIN_TARGETS <= names

    plugins.reset()
    monkeypatch.setenv("VSODBOOST_LOAD_PLUGINS", " other-vsod , acme ")  # distribution name, spaces
    names = set(plugins.targets().names())
    assert {"acme", "other"} <= names

    plugins.reset()
    monkeypatch.setenv("VSODBOOST_LOAD_PLUGINS", "")  # set and empty: no third-party plugin
    names = set(plugins.targets().names())
    assert names.isdisjoint({"acme", "other"}) and BUILTIN_TARGETS <= names


def test_unknown_adapter_name_lists_available_and_mentions_plugins():
    with pytest.raises(UnknownNameError) as info:
        adapters.create("nosuchmodel")
    msg = str(info.value)
    assert "nosuchmodel" in msg and "precomputed" in msg and "ssav" in msg and "plugin" in msg
    assert isinstance(info.value, KeyError)


def test_register_plugin_twice_under_one_name_is_refused():
    mod = _plugin_module("once_plugin", GOOD_PLUGIN.format(name="once"))
    plugins.register_plugin(mod, name="once_plugin")
    try:
        with pytest.raises(ValueError):
            plugins.register_plugin(_plugin_module("x", GOOD_PLUGIN.format(name="twice")), name="once_plugin")
    finally:
        plugins.unregister_plugin("once_plugin")


def test_duplicate_within_a_registry_is_an_error():
    reg = plugins.targets()
    with pytest.raises(DuplicateNameError, match="'ssav' is already registered by plugin 'vsodboost.adapters._builtin'"):
        reg.register("ssav", lambda: None, plugin="me")


# -- the example plugin, installed for real ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """pip-install examples/custom_adapter into a temporary folder (the venv is left untouched)."""
    src = tmp_path_factory.mktemp("example_src") / "custom_adapter"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("example_site")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), "--disable-pip-version-check",
           "--quiet", str(src)]
    if importlib.util.find_spec("setuptools") is not None:
        cmd[4:4] = ["--no-build-isolation", "--no-index"]  # build offline with the venv's setuptools
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"installing the example plugin failed:\n{proc.stdout}\n{proc.stderr}"
    return target


@pytest.fixture
def example_on_path(installed_example, monkeypatch):
    monkeypatch.syspath_prepend(str(installed_example))
    plugins.reset()
    yield installed_example
    sys.modules.pop("vsodboost_tinynet", None)
    plugins.reset()


def test_example_plugin_found_through_entry_point_and_adapters(example_on_path, clip_factory):
    entry = plugins.targets().get("tinynet")
    assert entry.plugin == "tinynet"  # registered by the entry point, not by us
    assert Path(sys.modules["vsodboost_tinynet"].__file__).parent == example_on_path

    target = adapters.tinynet()
    assert isinstance(target, TargetModel) and target.name == "tinynet"
    folder, _ = clip_factory(n=5, h=40, w=56)
    video = load_video(folder)
    maps = check_target_output(target.predict(video), video, target)
    assert len(maps) == 5
    for m in maps:
        assert m.shape == (40, 56) and m.dtype == np.float32
        assert 0.0 < float(m.min()) and float(m.max()) < 1.0  # a sigmoid never reaches 0 or 1
    # deterministic per seed, different across seeds, and the seed is a real argument of the factory
    again = adapters.create("tinynet").predict(video)
    other = adapters.tinynet(seed=1).predict(video)
    np.testing.assert_array_equal(maps[0], again[0])
    assert not np.allclose(maps[0], other[0])
    # the maps depend on the frame content (it is a model, not a constant)
    assert float(np.abs(maps[0] - maps[4]).max()) > 0


def test_example_plugin_loads_weights_strictly(example_on_path, tmp_path):
    import torch

    from vsodboost.errors import WeightsError

    mod = importlib.import_module("vsodboost_tinynet")
    net = mod.TinyNet(hidden=4)
    good = tmp_path / "tiny.pt"
    torch.save({"state_dict": net.state_dict()}, good)
    loaded = adapters.tinynet(weights=good, hidden=4)
    assert torch.equal(loaded.net.conv1.weight, net.conv1.weight)
    with pytest.raises(WeightsError, match="shape mismatch"):
        adapters.tinynet(weights=good, hidden=8)


def test_example_plugin_listed_by_cli(example_on_path, capsys):
    assert cli.main(["plugins", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    by_name = {e["name"]: e for e in table["target"]}
    assert by_name["tinynet"]["plugin"] == "tinynet"
    assert by_name["precomputed"]["plugin"] == "vsodboost.adapters._builtin"


def test_plugins_command_lists_encoders_and_thetas_from_their_registries(capsys):
    assert cli.main(["plugins", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in table["encoder"]] == plugins.encoders().names() == ["tf_efficientnet_lite0", "vgg16"]
    assert [e["name"] for e in table["theta"]] == plugins.thetas().names()
    assert {e["plugin"] for e in table["theta"]} == {"vsodboost.mqpm._plugin"}
    assert cli.main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "encoders (2):" in text and "Θs of Eq. 1 (5):" in text and "border-contrast-center" in text


def test_example_plugin_filtered_out(example_on_path, monkeypatch):
    monkeypatch.setenv("VSODBOOST_LOAD_PLUGINS", "some-other-plugin")
    assert "tinynet" not in plugins.targets()
    with pytest.raises(AttributeError, match="tinynet"):
        adapters.tinynet  # noqa: B018
    plugins.reset()
    monkeypatch.setenv("VSODBOOST_LOAD_PLUGINS", "vsodboost-tinynet")
    assert "tinynet" in plugins.targets()
