"""Names that moved to their one home still answer at the old place for one release, with a DeprecationWarning
that names the new place; a name that never existed there is still an AttributeError."""

from __future__ import annotations

import importlib

import pytest

MOVED = [  # (old module, name, new module, new name)
    ("vsodboost.booster", "fuse_maps", "vsodboost.fusion", "fuse_maps"),
    ("vsodboost.booster", "run_to_dir", "vsodboost.runner", "run_to_dir"),
    ("vsodboost.booster", "target_identity", "vsodboost.identity", "target_identity"),
    ("vsodboost.runner", "target_identity", "vsodboost.identity", "target_identity"),
    ("vsodboost.booster", "weights_identity", "vsodboost.identity", "weights_identity"),
    ("vsodboost.runner", "weights_identity", "vsodboost.identity", "weights_identity"),
    ("vsodboost.booster", "write_map_atomic", "vsodboost.io", "write_map_atomic"),
    ("vsodboost.booster", "write_json_atomic", "vsodboost.io", "write_json_atomic"),
    ("vsodboost.booster", "FinetuneConfig", "vsodboost.config", "FinetuneConfig"),
    ("vsodboost.spatial", "FinetuneConfig", "vsodboost.config", "FinetuneConfig"),
    ("vsodboost.spatial", "load_unet_checkpoint", "vsodboost.models.checkpoint", "load_unet_checkpoint"),
    ("vsodboost.spatial", "save_unet_checkpoint", "vsodboost.models.checkpoint", "save_unet_checkpoint"),
    ("vsodboost.metrics", "read_map", "vsodboost.io", "read_map"),
    ("vsodboost.adapters", "read_map", "vsodboost.io", "read_unit_map"),
]


@pytest.mark.parametrize("old, name, new, new_name", MOVED, ids=[f"{o}.{n}" for o, n, *_ in MOVED])
def test_a_moved_name_warns_and_is_the_object_at_its_home(old, name, new, new_name):
    with pytest.warns(DeprecationWarning, match=f"import {new_name} from {new}"):
        got = getattr(importlib.import_module(old), name)
    assert got is getattr(importlib.import_module(new), new_name)
    assert name not in getattr(importlib.import_module(old), "__all__")


def test_an_unknown_name_is_still_an_attribute_error():
    booster = importlib.import_module("vsodboost.booster")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        booster.no_such_name  # noqa: B018
