"""vsodboost._diff.settings_diff: the one "saved → now" reader of the resume refusals (runner, MQPM and spatial
training)."""

from vsodboost._diff import settings_diff


def test_nested_changes_added_and_removed_keys_each_get_a_line():
    old = {"config": {"period": 5, "finetune": {"lr": 1e-4}}, "gone": 1}
    new = {"config": {"period": 4, "finetune": {"lr": 1e-4, "autocast": "off"}}}
    assert settings_diff(old, new) == ["config.period: 5 → 4", "config.finetune.autocast: (absent) → off",
                                       "gone: 1 → (absent)"]
    assert settings_diff(new, new) == []


def test_labels_name_paths_and_long_values_are_shortened():
    old = {"sequence": "a", "trained_on": [f"s{i}" for i in range(30)]}
    new = {"sequence": "b", "trained_on": [f"s{i}" for i in range(29)]}
    assert settings_diff(old, new, {"sequence": "sequence name"}) == [
        "sequence name: a → b", "trained_on: 30 items ['s0'…'s29'] → 29 items ['s0'…'s28']"]
    assert settings_diff({"x": "y" * 100}, {"x": 1})[0] == "x: " + "y" * 77 + "... → 1"
    assert settings_diff(None, {"a": 1}) == [": null → {\"a\": 1}"]
