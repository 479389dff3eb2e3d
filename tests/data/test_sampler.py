"""StratifiedBatchSampler: exact quotas, coverage, disjoint ranks, determinism and O(1) resume."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from prep import StratifiedBatchSampler
from prep.data import sampler as sampler_module
from prep.data.sampler import _keys, _permute


@st.composite
def setups(draw):
    """A dataset (has_text, lengths) and sampler settings that fit it."""
    replicas = draw(st.integers(1, 4))
    with_text = draw(st.integers(replicas, 60))
    without = draw(st.integers(replicas, 200))
    has_text = np.zeros(with_text + without, dtype=bool)
    has_text[draw(st.permutations(range(len(has_text))))[:with_text]] = True
    batch_size = draw(st.integers(2, 24))
    ratio = draw(st.one_of(st.none(), st.floats(0.01, 0.99)))
    lengths = draw(st.one_of(st.none(), st.just(np.random.default_rng(len(has_text)).integers(20, 300, len(has_text)))))
    return {
        "has_text": has_text,
        "batch_size": batch_size,
        "text_ratio": ratio,
        "lengths": lengths,
        "seed": draw(st.integers(0, 2**32)),
        "num_replicas": replicas,
        "drop_last": draw(st.booleans()),
        "bucket_batches": draw(st.integers(1, 8)),
    }


def epoch_batches(setup: dict, epoch: int) -> list[list[list[int]]]:
    """Every rank's batches of one epoch."""
    out = []
    for rank in range(setup["num_replicas"]):
        sampler = StratifiedBatchSampler(**setup, rank=rank)
        sampler.set_epoch(epoch)
        out.append(list(sampler))
    return out


def expected_quota(setup: dict) -> int:
    has_text = setup["has_text"]
    ratio = has_text.mean() if setup["text_ratio"] is None else setup["text_ratio"]
    return min(max(round(setup["batch_size"] * ratio), 1), setup["batch_size"] - 1)


@settings(max_examples=60, deadline=None)
@given(setups(), st.integers(0, 3))
def test_quotas_coverage_and_disjoint_ranks(setup, epoch):
    has_text, size = setup["has_text"], setup["batch_size"]
    quota = expected_quota(setup)
    ranks = epoch_batches(setup, epoch)
    assert len({len(batches) for batches in ranks}) == 1, "every rank has the same number of batches"
    seen = []
    for batches in ranks:
        for batch in batches:
            assert len(batch) == size
            assert int(has_text[batch].sum()) == quota
        seen.append({i for batch in batches for i in batch})
    for a in range(len(seen)):
        for b in range(a + 1, len(seen)):
            assert not seen[a] & seen[b], "ranks share a video"
    if not setup["drop_last"]:
        assert set().union(*seen) == set(range(len(has_text))), "a video is missing from the epoch"
    # Recycling is even: within a rank and group, no video comes round twice before every other has once.
    for batches in ranks:
        counts = Counter(i for batch in batches for i in batch)
        for group in (False, True):
            shown = [counts[i] for i in np.flatnonzero(has_text == group) if counts[i]]
            if shown:
                assert max(shown) - min(shown) <= 1


@settings(max_examples=40, deadline=None)
@given(setups(), st.integers(0, 5), st.data())
def test_resume_anywhere_gives_the_uninterrupted_batches(setup, epoch, data):
    rank = data.draw(st.integers(0, setup["num_replicas"] - 1))
    sampler = StratifiedBatchSampler(**setup, rank=rank)
    sampler.set_epoch(epoch)
    full = list(sampler)
    stop = data.draw(st.integers(0, len(full)))
    first = StratifiedBatchSampler(**setup, rank=rank)
    first.set_epoch(epoch)
    iterator = iter(first)
    head = [next(iterator) for _ in range(stop)]
    state = first.state_dict()

    resumed = StratifiedBatchSampler(**setup, rank=rank)
    resumed.load_state_dict(state)
    resumed.set_epoch(epoch)  # what a training loop does on resume: keeps the position
    tail = list(resumed) if stop < len(full) else []
    assert head + tail == full


@settings(max_examples=30, deadline=None)
@given(setups())
def test_the_order_depends_only_on_seed_and_epoch(setup):
    a, b = StratifiedBatchSampler(**setup), StratifiedBatchSampler(**setup)
    for epoch in (0, 2):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert list(a) == list(b)
    assert list(a) == list(a), "iterating again without set_epoch repeats the epoch"


def test_epochs_and_seeds_differ():
    has_text = np.arange(500) % 5 == 0
    sampler = StratifiedBatchSampler(has_text, 16)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    assert list(StratifiedBatchSampler(has_text, 16, seed=1)) != epoch0


def test_recycles_with_text_videos_when_the_ratio_exceeds_their_share():
    has_text = np.arange(400) % 10 == 0  # 10 % with text, asked for 50 %
    sampler = StratifiedBatchSampler(has_text, 10, text_ratio=0.5)
    batches = list(sampler)
    assert sampler.quota == (5, 5) and len(batches) == 72  # 360 without text / 5 per batch
    counts = Counter(i for batch in batches for i in batch)
    assert all(counts[i] == 1 for i in np.flatnonzero(~has_text))
    assert {counts[i] for i in np.flatnonzero(has_text)} == {9}  # 40 videos fill 360 places


def test_length_buckets_keep_quotas_and_group_similar_lengths():
    rng = np.random.default_rng(0)
    has_text = rng.random(2000) < 0.2
    lengths = rng.integers(50, 300, 2000)
    plain = list(StratifiedBatchSampler(has_text, 32))
    bucketed = list(StratifiedBatchSampler(has_text, 32, lengths=lengths))
    quota = round(32 * has_text.mean())
    assert all(int(has_text[b].sum()) == quota for b in bucketed)
    spread = np.mean([np.ptp(lengths[b]) for b in bucketed])
    assert spread < 0.25 * np.mean([np.ptp(lengths[b]) for b in plain])


def test_drop_last_ends_before_the_batch_that_needs_filling():
    has_text = np.arange(100) < 20  # 80 without text, 20 with: quota 6 + 2 -> 80/6 = 13.3 batches
    assert len(StratifiedBatchSampler(has_text, 8)) == 14
    batches = list(StratifiedBatchSampler(has_text, 8, drop_last=True))
    assert len(batches) == 13
    counts = Counter(i for b in batches for i in b)
    without = [counts[i] for i in np.flatnonzero(~has_text)]
    assert max(without) == 1 and without.count(0) == 2  # 78 of the 80 shown once, none twice


def test_restoring_far_into_an_epoch_is_immediate(monkeypatch):
    """Restored at batch 20,000, the sampler computes the order of that batch's window only: every video order
    goes through ``_permute``, and a restore that replayed the epoch would put 160,000 positions through it."""
    has_text = np.zeros(200_000, dtype=bool)
    has_text[::5] = True
    sampler = StratifiedBatchSampler(has_text, 8)
    expected = sampler.batch(20_000)
    permuted = []

    def counting(x, n, keys):
        permuted.append(len(x))
        return _permute(x, n, keys)

    monkeypatch.setattr(sampler_module, "_permute", counting)
    fresh = StratifiedBatchSampler(has_text, 8)
    fresh.load_state_dict({**fresh.state_dict(), "position": 20_000})
    assert next(iter(fresh)) == expected and int(has_text[expected].sum()) == 2
    assert 0 < sum(permuted) <= 2 * 8 * fresh.bucket_batches  # one window of 64 batches, through two permutations


def test_state_from_other_settings_is_refused():
    has_text = np.arange(100) % 4 == 0
    state = StratifiedBatchSampler(has_text, 8).state_dict()
    with pytest.raises(ValueError, match="batch_size: saved 8, now 16"):
        StratifiedBatchSampler(has_text, 16).load_state_dict(state)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_ratio": 0.0}, "no place for the 10 videos with text"),
        ({"text_ratio": 1.5}, r"text_ratio must be in \[0, 1\]"),
        ({"num_replicas": 20}, "cannot be shared out to 20 ranks"),
        ({"num_replicas": 2, "rank": 2}, "rank must be in"),
    ],
)
def test_impossible_settings_say_why(kwargs, message):
    has_text = np.arange(100) % 10 == 0
    with pytest.raises(ValueError, match=message):
        StratifiedBatchSampler(has_text, 8, **kwargs)


def test_a_small_share_still_gets_one_place_per_batch():
    has_text = np.arange(1000) % 100 == 0  # 1 %: round(8 * 0.01) is 0
    sampler = StratifiedBatchSampler(has_text, 8)
    assert sampler.quota == (7, 1)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5000), st.integers(0, 2**32))
def test_permutation_is_a_bijection(n, seed):
    assert sorted(_permute(np.arange(n), n, _keys(1, seed, 0, 0)).tolist()) == list(range(n))


def test_works_as_a_dataloader_batch_sampler():
    has_text = np.arange(40) % 4 == 0
    sampler = StratifiedBatchSampler(has_text, 8)
    loader = torch.utils.data.DataLoader(list(range(40)), batch_sampler=sampler)
    batches = [b.tolist() for b in loader]
    assert len(batches) == len(sampler) == 5 and all(sum(has_text[b]) == 2 for b in batches)
