"""Batching: fixed sizes, masks, seeded shuffles, full/stochastic batch sizes."""

import numpy as np
import pytest

from jnn.train import batches


def test_pad_covers_every_example_once_with_fixed_size():
    order = np.arange(23)
    got = list(batches.index_batches(order, 10, "pad"))
    assert [len(idx) for idx, _ in got] == [10, 10, 10]
    real = np.concatenate([idx[mask == 1] for idx, mask in got])
    np.testing.assert_array_equal(real, order)
    np.testing.assert_array_equal(got[-1][1], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])


def test_a_padded_batch_repeats_its_own_rows():
    idx, mask = batches.index_matrix(np.arange(23) + 100, 10, "pad")
    assert idx.shape == mask.shape == (3, 10)
    np.testing.assert_array_equal(idx[2], [120, 121, 122] * 3 + [120])
    np.testing.assert_array_equal(mask.sum(axis=1), [10, 10, 3])


def test_epoch_rows_iterate_and_stack_alike():
    rows = batches.epoch_rows(23, 4, "pad", seed=1, epoch=2, start=2)
    each = list(rows)
    assert len(rows) == len(each) == 4  # 6 batches, 2 skipped
    order = batches.epoch_order(23, seed=1, epoch=2)
    np.testing.assert_array_equal(each[0].idx, order[8:12])
    assert each[0].idx.dtype == np.int32 and each[0].mask.dtype == np.float32
    stacked = rows.stacked(1, 4)
    np.testing.assert_array_equal(stacked.idx, np.stack([r.idx for r in each[1:]]))
    np.testing.assert_array_equal(stacked.mask, np.stack([r.mask for r in each[1:]]))


def test_drop_discards_the_ragged_tail():
    got = list(batches.index_batches(np.arange(23), 10, "drop"))
    assert len(got) == 2
    assert all(mask.sum() == 10 for _, mask in got)


def test_num_batches_matches_iteration():
    for n, b in [(23, 10), (20, 10), (1, 1), (7, 7)]:
        for ragged in ("pad", "drop"):
            count = len(list(batches.index_batches(np.arange(n), b, ragged)))
            assert batches.num_batches(n, b, ragged) == count


def test_epoch_order_is_a_seeded_permutation():
    a = batches.epoch_order(50, seed=3, epoch=2)
    np.testing.assert_array_equal(np.sort(a), np.arange(50))
    np.testing.assert_array_equal(a, batches.epoch_order(50, seed=3, epoch=2))
    assert not np.array_equal(a, batches.epoch_order(50, seed=3, epoch=3))
    assert not np.array_equal(a, batches.epoch_order(50, seed=4, epoch=2))


def test_full_stochastic_and_minibatch_sizes():
    assert batches.resolve_batch_size(0, 37) == 37  # full batch
    assert batches.resolve_batch_size(1, 37) == 1  # stochastic
    assert batches.resolve_batch_size(8, 37) == 8  # mini-batch


def test_batch_larger_than_dataset_raises():
    with pytest.raises(ValueError, match=r"train.batch_size` <= the 37 training"):
        batches.resolve_batch_size(64, 37)


def test_empty_training_split_raises():
    with pytest.raises(ValueError, match="non-empty training split"):
        batches.resolve_batch_size(8, 0)


def test_unknown_ragged_mode_raises():
    with pytest.raises(ValueError, match=r"train.ragged.*did you mean 'pad'"):
        batches.num_batches(10, 3, "padd")


def test_eval_batches_keep_order():
    x = np.arange(7, dtype=np.float32)[:, None]
    got = list(batches.eval_batches(x, np.arange(7), 3))
    seen = np.concatenate([b.y[b.mask == 1] for b in got])
    np.testing.assert_array_equal(seen, np.arange(7))
