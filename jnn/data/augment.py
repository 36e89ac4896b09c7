"""Image augmentation that runs on device, inside the jitted train step.

Each function is pure: `fn(key, x) -> x'` on a batch `(B, H, W, C)`, drawing
independent randomness per example from `key`, so a run stays reproducible
from its seed and costs no host round trip.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import _checks

Augment = Callable[[jax.Array, jax.Array], jax.Array]


def _check_images(where: str, x) -> None:
    _checks.expect_rank(
        where, x, 4, "(B, H, W, C)", "augmentation is for image batches"
    )


def random_shift(key: jax.Array, x: jax.Array, max_shift: int) -> jax.Array:
    """Shift each image by up to `max_shift` pixels in H and W, filling with 0.

    Implemented as zero-padding then a random crop back to (H, W).

    Example:
      >>> x = jnp.ones((2, 4, 4, 1))
      >>> random_shift(jax.random.key(0), x, 1).shape
      (2, 4, 4, 1)
    """
    _check_images("random_shift", x)
    _checks.non_negative_int("random_shift", "max_shift", max_shift)
    if max_shift == 0:
        return x
    b, h, w, c = x.shape
    pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
    padded = jnp.pad(x, pad)  # (B, H + 2s, W + 2s, C)
    starts = jax.random.randint(key, (b, 2), 0, 2 * max_shift + 1)

    def crop(image, start):
        return jax.lax.dynamic_slice(image, (start[0], start[1], 0), (h, w, c))

    return jax.vmap(crop)(padded, starts)


def random_flip(key: jax.Array, x: jax.Array) -> jax.Array:
    """Mirror each image left-right with probability 1/2 (not for digits/text).

    Example:
      >>> x = jnp.arange(4.0).reshape(1, 1, 4, 1)
      >>> y = random_flip(jax.random.key(0), x)
      >>> bool(jnp.all(y == x) | jnp.all(y == x[:, :, ::-1]))
      True
    """
    _check_images("random_flip", x)
    flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1, 1))
    return jnp.where(flip, x[:, :, ::-1, :], x)


def make(shift: int = 0, flip: bool = False) -> Augment | None:
    """Compose the configured augmentations; None when there are none."""
    _checks.non_negative_int("augment", "data.augment_shift", shift)
    if shift == 0 and not flip:
        return None

    def augment(key, x):
        shift_key, flip_key = jax.random.split(key)
        x = random_shift(shift_key, x, shift)
        return random_flip(flip_key, x) if flip else x

    return augment
