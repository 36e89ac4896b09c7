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
    """The shuffled example order of one epoch, a function of (seed, epoch).

    Drawn on the host even for data kept on a device: on a 2-core CPU,
    `jax.random.permutation` of 6,400 rows took 3.0 ms, this under 0.1 ms.
    """
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


def index_batches(
    order: np.ndarray, batch_size: int, ragged: str
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield `(indices (B,), mask (B,))` batches over `order`, all of size B."""
    yield from zip(*index_matrix(order, batch_size, ragged), strict=True)


def index_matrix(
    order: np.ndarray, batch_size: int, ragged: str
) -> tuple[np.ndarray, np.ndarray]:
    """`index_batches` at once: indices (N, B) and mask (N, B), one row a batch.

    A padded last batch repeats its own rows, masked out. Made as two
    arrays, not a pair per batch: a small model's step costs only a few
    times that per-batch work.
    """
    count = num_batches(len(order), batch_size, ragged)
    full = min(count, len(order) // batch_size)
    idx = np.empty((count, batch_size), order.dtype)
    idx[:full] = order[: full * batch_size].reshape(full, batch_size)
    mask = np.ones((count, batch_size), np.float32)
    if count > full:  # pad by repeating rows; the mask hides them
        rest = order[full * batch_size :]
        idx[full] = np.resize(rest, batch_size)
        mask[full, len(rest) :] = 0.0
    return idx, mask


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


class EpochRows:
    """An epoch's `Rows` from some batch on, made at once (`index_matrix`).

    Iterating yields one batch's `Rows`; `stacked(a, b)` gives batches
    a..b-1 stacked on a leading axis, as a fused dispatch takes them, with
    no per-batch work (`jnn.runs.loop` uses it when it fuses steps).
    """

    def __init__(self, idx: np.ndarray, mask: np.ndarray):
        self.idx, self.mask = idx, mask  # (N, B) each

    def __len__(self) -> int:
        return len(self.idx)

    def __iter__(self) -> Iterator[Rows]:
        return itertools.starmap(Rows, zip(self.idx, self.mask, strict=True))

    def stacked(self, a: int, b: int) -> Rows:
        return Rows(self.idx[a:b], self.mask[a:b])


def epoch_rows(
    num_examples: int, batch_size: int, ragged: str, seed: int, epoch: int, start=0
) -> EpochRows:
    """The `Rows` of one epoch from batch `start` on: exactly the rows
    `epoch_batches` gathers on the host, for `gather_rows` on the device."""
    order = epoch_order(num_examples, seed, epoch).astype(np.int32)
    idx, mask = index_matrix(order, batch_size, ragged)
    return EpochRows(idx[start:], mask[start:])


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
