"""The merge's in-order fast path keeps exactly what the LIS step would keep."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.diff import longest_increasing_run
from accord.engine.merge import kept_in_order


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=40, unique=True))
def test_fast_path_agrees_with_the_lis(values: list[int]) -> None:
    kept = kept_in_order(values)
    lis = longest_increasing_run(values)
    if kept is None:
        # None means "every index stays": only right when the LIS is the whole sequence.
        assert lis == set(range(len(values)))
    else:
        assert kept == lis


@given(st.lists(st.integers(min_value=0, max_value=1_000), max_size=40, unique=True))
def test_sorted_survivors_take_the_fast_path(values: list[int]) -> None:
    assert kept_in_order(sorted(values)) is None
