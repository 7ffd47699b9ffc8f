import numpy as np
import pytest
import torch

from vsodboost.errors import InputError
from vsodboost.mining import select_frames


def test_keeps_most_consistent_of_each_period_among_hq_frames_with_target():
    hq = np.array([0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    cons = np.array([0.5, 0.8, 0.99, 0.7, 0.6, 0.9, 0.1, 0.2, 0.95, 0.3])
    has = np.ones(10, bool)
    has[5] = False  # most consistent in its group but no target map
    sel = select_frames(hq, cons, has, period=3)
    # candidates: 0,1,3,4,6,7,8,9 → groups (0,1,3) (4,6,7) (8,9)
    assert sel.candidates == [0, 1, 3, 4, 6, 7, 8, 9]
    assert sel.indices == [1, 4, 8]
    assert not sel.fallback and not sel.warnings


def test_period_one_keeps_every_candidate_and_threshold_applies():
    hq = np.array([0.2, 0.6, 0.7, 0.4])
    sel = select_frames(hq, np.zeros(4), np.ones(4, bool), period=1, threshold=0.5)
    assert sel.indices == [1, 2]
    sel = select_frames(hq, np.zeros(4), np.ones(4, bool), period=1, threshold=0.65)
    assert sel.indices == [2]


def test_fallback_when_no_frame_is_hq_ranks_by_hq_times_consistency():
    hq = np.array([0.1, 0.4, 0.3, 0.2, 0.05, 0.3])
    cons = np.array([0.9, 0.9, 0.2, 0.9, 0.9, 0.8])
    sel = select_frames(hq, cons, np.ones(6, bool), period=3)
    assert sel.fallback and sel.warnings
    assert sel.indices == [1, 5]  # 6 frames // 3 = 2 frames: 0.36 and 0.24 beat 0.18


def test_no_target_map_at_all_selects_nothing_with_a_warning():
    sel = select_frames(np.ones(4), np.full(4, np.nan), np.zeros(4, bool))
    assert sel.indices == [] and sel.fallback and "no map" in sel.warnings[0]


def test_nan_consistency_never_wins():
    sel = select_frames(np.ones(3), np.array([np.nan, 0.1, np.nan]), np.ones(3, bool), period=3)
    assert sel.indices == [1]


@pytest.mark.parametrize("kw", [{"period": 0}, {"threshold": 1.5}])
def test_bad_arguments(kw):
    with pytest.raises(InputError):
        select_frames(np.ones(3), np.ones(3), np.ones(3, bool), **kw)


def test_length_mismatch():
    with pytest.raises(InputError, match="lengths differ"):
        select_frames(np.ones(3), np.ones(2), np.ones(3, bool))


def test_alternative_selectors_keep_one_frame_per_period_by_their_own_score():
    from vsodboost.mining import SELECTORS, consistency_selector, hq_rank_selector

    hq = np.array([0.9, 0.1, 0.2, 0.8, 0.3, 0.7, 0.6])
    cons = np.array([0.1, 0.9, 0.5, 0.2, 0.3, 0.4, 0.8])
    has = np.ones(7, bool)
    kw = dict(period=3, threshold=0.5, seed=0)
    assert SELECTORS["mqpm"](hq, cons, has, **kw).indices == [5, 6]  # HQ frames 0, 3, 5, 6, then consistency
    sel = consistency_selector(hq, cons, has, **kw)  # every frame a candidate, the most consistent of each 3
    assert sel.indices == [1, 5, 6] and sel.candidates == list(range(7))
    assert hq_rank_selector(hq, cons, has, **kw).indices == [0, 3, 6]  # the most likely HQ of each 3
    has[[1, 5]] = False  # frames without a target map are never candidates
    assert consistency_selector(hq, cons, has, **kw).indices == [2, 6]
    assert hq_rank_selector(hq, cons, has, **kw).indices == [0, 6]
    none = consistency_selector(hq, cons, np.zeros(7, bool), **kw)
    assert none.indices == [] and none.fallback and "no map" in none.warnings[0]



def test_teachable_drops_flat_maps_from_the_mask_and_says_so():
    from vsodboost.mining import teachable
    maps = torch.zeros(4, 5, 5)
    maps[0, 2, 2] = 1.0          # varies: teachable
    maps[1] = 0.7                # flat: not teachable
    maps[3, 0, 0] = 1.0 / 256.0  # within one grey level: flat
    has = np.array([True, True, False, True])
    teach, warnings = teachable(maps, has, ["a", "b", "c", "d"], "buffer 0:4")
    assert teach.tolist() == [True, False, False, False]
    assert len(warnings) == 1 and "2 frame(s)" in warnings[0] and "['b', 'd']" in warnings[0] and "0.700" in warnings[0]
    teach, warnings = teachable(maps[:1], has[:1], ["a"], "w")
    assert teach.tolist() == [True] and warnings == []


@pytest.mark.parametrize("has,teach,want", [
    ([True, True], [False, False], "keep"),      # every map flat: the target's maps are kept
    ([False, False], [False, False], "none"),    # no map at all: the pretrained model
    ([True], [True], "one"),                     # one frame: no motion, fine-tune on it
    ([True, False], [True, False], None),        # mining runs
])
def test_without_motion_names_each_fallback(has, teach, want):
    from vsodboost.mining import without_motion
    sel = without_motion(np.array(has), np.array(teach), "buffer 0:2")
    if want is None:
        assert sel is None
        return
    assert sel.fallback and sel.keep_target == (want == "keep")
    assert sel.indices == ([0] if want == "one" else [])


def test_consistency_is_nan_without_a_map_and_one_for_the_same_map():
    from vsodboost.mining import consistency
    m = torch.zeros(3, 16, 16)
    m[:, 4:12, 4:12] = 1.0
    cons = consistency(m, m.clone(), np.array([True, False, True]), 16)
    assert np.isnan(cons[1]) and cons[0] == pytest.approx(1.0, abs=1e-6) and cons[2] == pytest.approx(1.0, abs=1e-6)
