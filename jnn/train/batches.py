"""Host-side batching: seeded shuffles, fixed-size batches, padding masks.

Every batch has exactly `batch_size` rows so the jitted step compiles once. A
ragged final batch is either padded (rows repeated, masked out with 0) or
dropped, by config. Shuffles depend only on (seed, epoch), so any epoch's order
can be regenerated, e.g. when resuming. Data kept on the device is batched by
its row indices alone (`epoch_rows`, then `gather_rows` inside the step).
"""

import itertools
from collections.abc import Iterator
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.train.step import Batch

RAGGED = ("pad", "drop")  # what becomes of a ragged last batch (`train.ragged`)


def resolve_batch_size(batch_size: int, num_examples: int, where="train.batch_size"):
    """Return the effective batch size: 0 means full batch.

    Raises:
      ValueError: if `batch_size` exceeds the number of examples, or the
        split is empty.
    """
    if num_examples == 0:
        raise _checks.value_error("batches", "a non-empty training split", "0 examples")
    if batch_size == 0:
        return num_examples
    if batch_size > num_examples:
        raise _checks.value_error(
            "batches",
            f"`{where}` <= the {num_examples} training examples",
            batch_size,
            "use 0 for full-batch gradient descent",
        )
    return batch_size


def num_batches(num_examples: int, batch_size: int, ragged: str) -> int:
    """Number of batches per epoch for `ragged` = "pad" or "drop"."""
    _checks.one_of("batches", "train.ragged", ragged, RAGGED)
    full, rest = divmod(num_examples, batch_size)
    return full + (1 if rest and ragged == "pad" else 0)


def epoch_order(num_examples: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled example order of one epoch, a function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


def index_batches(
    order: np.ndarray, batch_size: int, ragged: str
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield `(indices (B,), mask (B,))` batches over `order`, all of size B."""
    for start in range(
        0, num_batches(len(order), batch_size, ragged) * batch_size, batch_size
    ):
        idx = order[start : start + batch_size]
        mask = np.ones(batch_size, np.float32)
        if len(idx) < batch_size:  # pad by repeating rows; the mask hides them
            mask[len(idx) :] = 0.0
            idx = np.resize(idx, batch_size)
        yield idx, mask


def gather(x: np.ndarray, y: np.ndarray, idx: np.ndarray, mask: np.ndarray) -> Batch:
    """Build a host `Batch` from index arrays (device transfer happens at the call)."""
    return Batch(x[idx], y[idx], mask)


def epoch_batches(
    x, y, batch_size: int, ragged: str, seed: int, epoch: int, start: int = 0
):
    """Yield the shuffled, fixed-size `Batch`es of one training epoch.

    `start` skips the first batches (a run resumed mid-epoch) without
    gathering them; the rest are exactly those of an uninterrupted epoch.
    """
    order = epoch_order(len(x), seed, epoch)
    for idx, mask in itertools.islice(
        index_batches(order, batch_size, ragged), start, None
    ):
        yield gather(x, y, idx, mask)


class Rows(NamedTuple):
    """A batch as row indices into data kept on the device, and its mask."""

    idx: np.ndarray  # (B,) int32 rows of the data
    mask: np.ndarray  # (B,) float32: 1 real example, 0 padding


def epoch_rows(
    num_examples: int, batch_size: int, ragged: str, seed: int, epoch: int, start=0
):
    """Yield the `Rows` of one epoch: exactly the rows `epoch_batches` gathers
    on the host, for `gather_rows` to gather on the device."""
    order = epoch_order(num_examples, seed, epoch).astype(np.int32)
    for idx, mask in itertools.islice(
        index_batches(order, batch_size, ragged), start, None
    ):
        yield Rows(idx, mask)


def gather_rows(source: tuple, rows: Rows) -> Batch:
    """The `Batch` of `rows` from `source` = (x, y) on the device (in jit):
    the same values as the host's `gather`."""
    x, y = source
    return Batch(
        jnp.take(x, rows.idx, axis=0), jnp.take(y, rows.idx, axis=0), rows.mask
    )


def eval_batches(x, y, batch_size: int):
    """Yield in-order, padded `Batch`es covering every example exactly once."""
    for idx, mask in index_batches(np.arange(len(x)), batch_size, "pad"):
        yield gather(x, y, idx, mask)
