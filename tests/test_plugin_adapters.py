"""Plugin targets are first-class adapters (issue 22): positional arguments as for the built-ins, and help()
shows the plugin's own signature and docstring, not functools.partial's."""

from __future__ import annotations

import inspect
import pydoc
import textwrap
import types

import pytest

from vsodboost import adapters, plugins

PLUGIN = '''
    import numpy as np
    import vsodboost

    class Blur:
        """Constant maps from a blurred model (a stand-in for a third party's VSOD network)."""

        name = "blurmodel"

        def __init__(self, root, sigma=1.0, *, scale=0.5):
            self.root, self.sigma, self.scale = root, sigma, scale

        def predict(self, video):
            return [np.full(video.size, self.scale, np.float32) for _ in range(len(video))]

    def make_sharp(root: str, sigma: float = 2.0) -> Blur:
        """Sharp maps: the plugin's own words for its factory."""
        return Blur(root, sigma, scale=0.25)

    @vsodboost.hookimpl
    def register_targets(register):
        register("blurmodel", Blur, description="blurred maps")
        register("sharpmodel", make_sharp, description="sharp maps")
'''


@pytest.fixture
def plugin():
    plugins.reset()
    mod = types.ModuleType("blur_plugin")
    exec(textwrap.dedent(PLUGIN), mod.__dict__)
    plugins.register_plugin(mod, name="blur_plugin")
    yield mod
    plugins.unregister_plugin("blur_plugin")
    plugins.reset()


def test_plugin_adapters_take_positional_arguments_like_builtins(plugin):
    t = adapters.blurmodel("ROOT", 2)  # was TypeError: Registry.create() takes 2 positional arguments
    assert (t.root, t.sigma, t.scale) == ("ROOT", 2, 0.5)
    t = adapters.blurmodel("ROOT", sigma=3, scale=0.1)
    assert (t.sigma, t.scale) == (3, 0.1)
    assert adapters.create("blurmodel", "R", 4).sigma == 4
    assert adapters.sharpmodel("R").sigma == 2.0 and adapters.sharpmodel("R").scale == 0.25
    with pytest.raises(TypeError):  # the factory's own signature is enforced
        adapters.blurmodel("R", 1, 0.2)  # scale is keyword-only


def test_help_shows_the_plugins_signature_and_docstring(plugin):
    cls_adapter, fn_adapter = adapters.blurmodel, adapters.sharpmodel
    assert not hasattr(cls_adapter, "func")  # not a functools.partial
    assert str(inspect.signature(cls_adapter)).startswith("(root, sigma=1.0, *, scale=0.5)")
    sig = inspect.signature(fn_adapter)
    assert list(sig.parameters) == ["root", "sigma"] and sig.parameters["sigma"].default == 2.0
    assert cls_adapter.__name__ == "blurmodel" and "blurred model" in cls_adapter.__doc__
    text = pydoc.render_doc(fn_adapter, renderer=pydoc.plaintext)
    assert "sharpmodel(root: " in text and "sigma: " in text and "the plugin's own words" in text
    assert "partial" not in text
