"""Device-side augmentation: shifts and flips are exact, seeded, and checked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.data import augment

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate


def test_shift_moves_a_single_pixel_by_at_most_max_shift():
    x = jnp.zeros((64, 7, 7, 1)).at[:, 3, 3, 0].set(1.0)
    y = augment.random_shift(jax.random.key(0), x, 2)
    rows, cols = np.nonzero(np.asarray(y[..., 0]).sum(axis=0))
    assert float(y.sum()) == 64.0  # the pixel survives: shift 2 < 3 pixels of margin
    assert rows.min() >= 1 and rows.max() <= 5 and cols.min() >= 1 and cols.max() <= 5
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 5  # varied shifts


def test_zero_shift_is_identity_and_seed_reproduces():
    x = jax.random.normal(jax.random.key(1), (4, 5, 5, 2))
    np.testing.assert_array_equal(augment.random_shift(jax.random.key(0), x, 0), x)
    a = augment.random_shift(jax.random.key(3), x, 1)
    np.testing.assert_array_equal(a, augment.random_shift(jax.random.key(3), x, 1))


def test_flip_is_exact_mirror_per_example():
    x = jax.random.normal(jax.random.key(2), (32, 3, 4, 1))
    y = augment.random_flip(jax.random.key(0), x)
    same = np.all(np.asarray(y == x), axis=(1, 2, 3))
    mirrored = np.all(np.asarray(y == x[:, :, ::-1]), axis=(1, 2, 3))
    assert np.all(same | mirrored) and same.any() and mirrored.any()


def test_make_returns_none_without_augmentations():
    assert augment.make(0, False) is None
    assert augment.make(1, True)(jax.random.key(0), jnp.ones((2, 4, 4, 1))).shape == (
        2,
        4,
        4,
        1,
    )


def test_non_image_input_raises():
    with pytest.raises(ValueError, match=r"rank 4 \(B, H, W, C\).*got shape \(2, 64\)"):
        augment.random_shift(jax.random.key(0), jnp.ones((2, 64)), 1)
