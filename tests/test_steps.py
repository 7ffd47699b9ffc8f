"""vsodboost._steps: what a buffer runs under (a seeded fork of torch's RNG, torch threads for the block) and how
its stages are timed and told, leaving the caller's process state as it was."""

from __future__ import annotations

import pytest
import torch

from vsodboost._steps import Stopwatch, both, check_threads, counting, effective_threads, seeded, torch_threads
from vsodboost.errors import InputError


def test_seeded_draws_the_same_numbers_and_leaves_the_callers_rng_as_it_was():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7, torch.device("cpu")):
        a = torch.rand(3)
    with seeded(7, torch.device("cpu")):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream continues untouched


def test_torch_threads_sets_the_count_for_the_block_only():
    before = torch.get_num_threads()
    n = 2 if before != 2 else 1
    with torch_threads(n):
        assert torch.get_num_threads() == n == effective_threads(n)
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: torch's own setting, untouched
        assert torch.get_num_threads() == before == effective_threads(0)


@pytest.mark.parametrize("value", [-1, 1.5, "2", True])
def test_check_threads_refuses_what_is_not_a_count(value):
    with pytest.raises(InputError, match="threads"):
        check_threads(value)


def test_check_threads_reads_none_as_torchs_own():
    assert check_threads(None) == 0 and check_threads(3) == 3


def test_stopwatch_adds_seconds_per_stage_and_tells_the_stages_without_a_count():
    told = []
    clock = Stopwatch(lambda *a: told.append(a))
    for stage in ("flow", "finetune", "flow"):
        with clock(stage):
            pass
    assert list(clock) == ["flow", "finetune"] and all(v >= 0 for v in clock.values())
    assert told == [("flow", 0, 0), ("flow", 0, 0)]  # fine-tuning counts its steps itself (counting)


def test_both_calls_each_given_callback_and_is_none_for_none():
    got = []
    assert both(None, None) is None
    one = got.append
    assert both(one, None) is one
    both(lambda x: got.append(("a", x)), lambda x: got.append(("b", x)))(5)
    assert got == [("a", 5), ("b", 5)]


def test_counting_tells_the_stage_at_start_and_after_each_step():
    told, also = [], []
    tell = counting(lambda *a: told.append(a), "fine-tuning", 3, lambda k, loss: also.append((k, loss)))
    tell(1, 0.5)
    assert told == [("fine-tuning", 0, 3), ("fine-tuning", 1, 3)] and also == [(1, 0.5)]
    assert counting(None, "x", 3, print) is print  # nobody to tell: the step callback alone
