"""Pure sampling: proportional allocation, simple and stratified samples, fractions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.campaigns import MAX_SEED  # the largest seed a campaign records
from survey.campaigns.sampling import (
    allocate_proportional,
    simple_sample,
    size_from_fraction,
    stratified_sample,
)

# --- allocation: worked examples ---------------------------------------------------


@pytest.mark.parametrize(
    ("strata", "n", "expected"),
    [
        # Exact quotas.
        ({"A": 10, "B": 30, "C": 60}, 10, {"A": 1, "B": 3, "C": 6}),
        # Quotas 0.05/0.05/4.9: Hamilton gives 0/0/5, then the two small strata
        # get one each, taken from C.
        ({"A": 1, "B": 1, "C": 98}, 5, {"A": 1, "B": 1, "C": 3}),
        # Quotas 2.0/1.2/0.8: the one seat left goes to the largest remainder (C).
        ({"A": 5, "B": 3, "C": 2}, 4, {"A": 2, "B": 1, "C": 1}),
        # Quotas 3.5/3.5/3.0: equal remainders and sizes, key order decides.
        ({"A": 7, "B": 7, "C": 6}, 10, {"A": 4, "B": 3, "C": 3}),
        ({"B": 7, "A": 7, "C": 6}, 10, {"B": 4, "A": 3, "C": 3}),
        # Quotas 0.5/1.5/0.5/0.5, two seats left: the larger stratum B first, then A
        # by key order. n < 4 strata, so no minimum of one.
        ({"A": 2, "B": 6, "C": 2, "D": 2}, 3, {"A": 1, "B": 2, "C": 0, "D": 0}),
        # Same sizes, n=4 >= 4 strata: everyone gets one.
        ({"A": 2, "B": 6, "C": 2, "D": 2}, 4, {"A": 1, "B": 1, "C": 1, "D": 1}),
        # Empty strata get nothing and do not count for the minimum of one.
        ({"A": 0, "B": 4, "C": 1}, 2, {"A": 0, "B": 1, "C": 1}),
        # Quotas 0.2/0.2/0.2/2.4: the seat left goes to D (.4); 3 < 4 strata.
        ({"A": 1, "B": 1, "C": 1, "D": 12}, 3, {"A": 0, "B": 0, "C": 0, "D": 3}),
        # n=4: Hamilton 1/0/0/3 (A by key order), then B and C get a seat each from D.
        ({"A": 1, "B": 1, "C": 1, "D": 12}, 4, {"A": 1, "B": 1, "C": 1, "D": 1}),
        ({"A": 1, "B": 1, "C": 1, "D": 12}, 5, {"A": 1, "B": 1, "C": 1, "D": 2}),
        # The whole frame, and nothing.
        ({"A": 3, "B": 4}, 7, {"A": 3, "B": 4}),
        ({"A": 3, "B": 4}, 0, {"A": 0, "B": 0}),
    ],
)
def test_allocation_worked_examples(strata, n, expected):
    assert allocate_proportional(strata, n) == expected


def test_allocation_rejects_impossible_requests():
    with pytest.raises(ValueError, match="larger than the 5"):
        allocate_proportional({"A": 2, "B": 3}, 6)
    with pytest.raises(ValueError, match="negative"):
        allocate_proportional({"A": 2}, -1)
    with pytest.raises(ValueError, match="negative size"):
        allocate_proportional({"A": -2, "B": 5}, 1)
    with pytest.raises(ValueError):
        allocate_proportional({}, 1)
    assert allocate_proportional({}, 0) == {}


# --- allocation: properties ----------------------------------------------------------

strata_sizes = st.dictionaries(
    st.text(alphabet="ABCDEFGH", min_size=1, max_size=2),
    st.integers(min_value=0, max_value=300),
    min_size=1,
    max_size=8,
).filter(lambda s: sum(s.values()) > 0)


@st.composite
def strata_and_n(draw):
    strata = draw(strata_sizes)
    n = draw(st.integers(min_value=0, max_value=sum(strata.values())))
    return strata, n


@given(strata_and_n())
def test_allocation_sums_to_n_within_bounds(case):
    strata, n = case
    allocation = allocate_proportional(strata, n)
    assert list(allocation) == list(strata)
    assert sum(allocation.values()) == n
    total = sum(strata.values())
    for key, size in strata.items():
        assert 0 <= allocation[key] <= size
        # Never more than the quota rounded up (the min-1 rule only gives one
        # seat to strata with a positive quota, whose ceiling is at least 1).
        assert allocation[key] <= math.ceil(Fraction(n * size, total))


@given(strata_and_n())
def test_every_non_empty_stratum_is_heard_when_n_allows(case):
    strata, n = case
    allocation = allocate_proportional(strata, n)
    non_empty = [k for k, size in strata.items() if size > 0]
    for key, size in strata.items():
        if size == 0:
            assert allocation[key] == 0
    if n >= len(non_empty):
        assert all(allocation[k] >= 1 for k in non_empty)


@given(strata_and_n())
def test_without_the_minimum_rule_allocation_is_hamilton(case):
    """When n is too small for one each, every stratum gets its quota rounded down or
    up, and the largest remainders get the rounded-up seats."""
    strata, n = case
    non_empty = [k for k, size in strata.items() if size > 0]
    if n >= len(non_empty):
        return
    allocation = allocate_proportional(strata, n)
    total = sum(strata.values())
    quota = {k: Fraction(n * size, total) for k, size in strata.items()}
    for key in strata:
        assert allocation[key] in (math.floor(quota[key]), math.ceil(quota[key]))
    up = [k for k in strata if allocation[k] > quota[k]]
    down = [k for k in strata if allocation[k] == math.floor(quota[k]) < quota[k]]
    for k in up:
        for d in down:
            assert quota[k] % 1 >= quota[d] % 1


# --- simple samples --------------------------------------------------------------------


def test_simple_sample_is_pinned_to_its_seed():
    """A recorded seed must draw the same accounts again, also in a later release."""
    ids = [f"KA{i:03d}" for i in range(1, 21)]
    sample = simple_sample(ids, 4, seed=2026)
    assert sample == ["KA004", "KA011", "KA017", "KA018"]
    assert simple_sample(list(reversed(ids)), 4, seed=2026) == sample


def test_different_seeds_draw_different_samples():
    ids = list(range(1000))
    samples = {tuple(simple_sample(ids, 50, seed)) for seed in range(20)}
    assert len(samples) == 20


def test_simple_sample_rejects_bad_requests():
    with pytest.raises(ValueError, match="cannot draw 4 from a frame of 3"):
        simple_sample([1, 2, 3], 4, seed=1)
    with pytest.raises(ValueError, match="cannot draw -1"):
        simple_sample([1, 2, 3], -1, seed=1)
    with pytest.raises(ValueError, match="duplicate unit 2"):
        simple_sample([1, 2, 2, 3], 1, seed=1)
    assert simple_sample([], 0, seed=1) == []


@st.composite
def ids_and_n(draw):
    ids = draw(st.lists(st.integers(min_value=0, max_value=10**6), unique=True, max_size=200))
    n = draw(st.integers(min_value=0, max_value=len(ids)))
    return ids, n


@given(ids_and_n(), st.integers(min_value=0, max_value=2**31), st.randoms())
def test_simple_sample_is_a_reproducible_subset(case, seed, shuffler):
    ids, n = case
    sample = simple_sample(ids, n, seed)
    assert len(sample) == n == len(set(sample))
    assert set(sample) <= set(ids)
    assert sample == sorted(sample)
    shuffled = list(ids)
    shuffler.shuffle(shuffled)
    assert simple_sample(shuffled, n, seed) == sample


# --- stratified samples ----------------------------------------------------------------


def test_stratified_sample_worked_example():
    frame = {
        "A": [f"A{i}" for i in range(10)],
        "B": [f"B{i}" for i in range(30)],
        "C": [f"C{i}" for i in range(60)],
    }
    allocation, sample = stratified_sample(frame, 10, seed=7)
    assert allocation == {"A": 1, "B": 3, "C": 6}
    assert sample == ["A5", "B12", "B2", "B27", "C11", "C12", "C14", "C3", "C4", "C56"]
    reordered = {"C": list(reversed(frame["C"])), "A": frame["A"], "B": frame["B"]}
    assert stratified_sample(reordered, 10, seed=7) == (allocation, sample)
    assert stratified_sample(frame, 10, seed=8)[1] != sample


def test_stratified_sample_rejects_an_id_in_two_strata():
    with pytest.raises(ValueError, match="duplicate unit 2"):
        stratified_sample({"A": [1, 2], "B": [2, 3]}, 1, seed=1)


@st.composite
def stratified_frames(draw):
    ids = draw(st.lists(st.integers(min_value=0, max_value=10**6), unique=True, max_size=150))
    keys = draw(st.lists(st.sampled_from("ABCDE"), min_size=len(ids), max_size=len(ids)))
    frame: dict[str, list[int]] = {}
    for key, unit in zip(keys, ids, strict=True):
        frame.setdefault(key, []).append(unit)
    n = draw(st.integers(min_value=0, max_value=len(ids)))
    return frame, n


@given(stratified_frames(), st.integers(min_value=0, max_value=2**31), st.randoms())
def test_stratified_sample_takes_the_allocation_from_each_stratum(case, seed, shuffler):
    frame, n = case
    allocation, sample = stratified_sample(frame, n, seed)
    assert allocation == allocate_proportional({k: len(frame[k]) for k in sorted(frame)}, n)
    assert len(sample) == n == len(set(sample))
    for key, members in frame.items():
        assert len(set(sample) & set(members)) == allocation[key]
    shuffled = {}
    for key in shuffler.sample(list(frame), len(frame)):
        members = list(frame[key])
        shuffler.shuffle(members)
        shuffled[key] = members
    assert stratified_sample(shuffled, n, seed) == (allocation, sample)


# --- pinned samples --------------------------------------------------------------------

# A campaign's seed and recorded frame must draw the same sample for as long as the
# campaign is kept (`flask campaign verify`). random.Random(seed).sample is not
# promised to stay the same across Python versions: if these exact samples change,
# recorded campaigns no longer verify, so the sampling must keep the old draw.
PINNED_FRAME = [f"KA{i:03d}" for i in range(30)]  # external ids, as a launch sorts them


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (0, ["KA012", "KA013", "KA024", "KA027", "KA028"]),
        (7, ["KA001", "KA004", "KA010", "KA012", "KA020"]),
        (MAX_SEED, ["KA004", "KA010", "KA020", "KA021", "KA025"]),
    ],
)
def test_a_known_seed_draws_a_pinned_simple_sample(seed, expected):
    assert simple_sample(PINNED_FRAME, 5, seed) == expected
    assert simple_sample(list(reversed(PINNED_FRAME)), 5, seed) == expected


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (0, ["KA000", "KA013", "KA018", "KA020", "KA023", "KA025", "KA027"]),
        (7, ["KA001", "KA004", "KA005", "KA006", "KA015", "KA018", "KA026"]),
        (MAX_SEED, ["KA004", "KA006", "KA014", "KA015", "KA021", "KA022", "KA023"]),
    ],
)
def test_a_known_seed_draws_a_pinned_stratified_sample(seed, expected):
    frame: dict[str, list[str]] = {}
    for i, external_id in enumerate(PINNED_FRAME):  # tiers A, B, C in turn
        frame.setdefault("ABC"[i % 3], []).append(external_id)
    assert stratified_sample(frame, 7, seed) == ({"A": 3, "B": 2, "C": 2}, expected)


# --- sizes from fractions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame_size", "fraction", "expected"),
    [
        (10, 0.15, 2),  # 1.5 rounds half up
        (10, 0.25, 3),  # 2.5 rounds half up
        (10, 0.24, 2),
        (200, 0.1, 20),
        (3, 0.01, 1),  # at least one from a non-empty frame
        (7, 1.0, 7),
        (7, 1, 7),
        (0, 0.5, 0),
        (1000, 0.0005, 1),  # 0.5 rounds up
        (1000, 0.0015, 2),
    ],
)
def test_size_from_fraction(frame_size, fraction, expected):
    assert size_from_fraction(frame_size, fraction) == expected


@pytest.mark.parametrize("fraction", [0, -0.1, 1.01, float("nan"), float("inf")])
def test_size_from_fraction_rejects_fractions_outside_zero_one(fraction):
    with pytest.raises(ValueError, match="fraction"):
        size_from_fraction(10, fraction)


@given(
    st.integers(min_value=1, max_value=10**6),
    st.floats(min_value=0, max_value=1, exclude_min=True, allow_nan=False),
)
def test_size_from_fraction_is_the_rounded_share(frame_size, fraction):
    size = size_from_fraction(frame_size, fraction)
    assert 1 <= size <= frame_size
    assert size == 1 or abs(size - frame_size * fraction) <= 0.5 + 1e-9
