"""Host batches fed to the step ahead of time: making (and placing) a batch
overlaps the steps before it.

The engine's loop (`jnn.runs.loop.run_epoch`) feeds every task's batches
through `prefetch` (at `default_depth()`, unless its hooks name a depth). On
an accelerator a background thread makes the batches (shuffled gathering,
padding, stacking for fused steps) into a bounded queue, and `put` places
them `depth` dispatches ahead of the step (on a mesh, split over its
devices; on one device the jitted call copies them, see `placer`). When the
host keeps up, the step never waits for a batch to be made; at most about
2 * `depth` batches wait in memory.

Nothing about the batches changes: the same items, in the same order, put by
the same function, so a run is bitwise the run without prefetching, and a run
resumed mid-epoch regenerates its batches from (seed, epoch) as before (those
made ahead of a stop are dropped, never stepped).

Only host work (the batch iterator and `host`) runs on the thread; `put`
runs on the caller's thread, so JAX's thread-local settings
(`jax.default_device`, transfer guards) apply to it as without prefetching.

  >>> import numpy as np
  >>> batches = (np.full(2, i) for i in range(4))
  >>> [int(b[0]) for b in prefetch(batches, lambda b: b * 10)]
  [0, 10, 20, 30]
"""

import collections
import functools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import jax

from jnn import _checks
from jnn.runs.mesh import Placement

DEPTH = 2  # batches made and placed ahead of the step: double buffering


def default_depth() -> int:
    """`DEPTH` on an accelerator; 0 (no prefetching) on a CPU.

    On a CPU the "device" is the host: a thread gathering batches competes
    with the step for the same cores, and there is no transfer to overlap.
    Measured with `benchmarks/pipeline.py` on a 2-core CPU, prefetching
    made a step 5-80% slower; the engine uses this depth unless told one.
    """
    return 0 if jax.default_backend() == "cpu" else DEPTH


def placer(placement: Placement, stacked: bool = False) -> Callable[[Any], Any]:
    """The `put` of a host batch for `placement`: split over its mesh (on
    axis 1 if `stacked`: K batches for one fused dispatch); on one device,
    the batch as is, copied by the jitted call itself.

    An explicit `jax.device_put` a step or two ahead was measured slower (on
    an H200, 0.90 vs 0.37 ms/step for the tiny MLP, 1.03 vs 0.68 for the
    784-512-512-10 MLP; `benchmarks/pipeline.py`): its per-call host cost
    exceeds the copy it would overlap.
    """
    if placement.mesh is not None:
        return functools.partial(placement.batch, axis=1 if stacked else 0)
    return _as_is


def _as_is(tree):
    return tree


def prefetch(
    batches: Iterable,
    put: Callable[[Any], Any],
    *,
    depth: int = DEPTH,
    thread: bool = True,
    start: int = 0,
    host: Callable[[Iterator], Iterable] | None = None,
) -> Iterator:
    """Yield `put(item)` for each item, `depth` items put ahead of the one yielded.

    Close the generator (`contextlib.closing`) when stopping early: closing
    stops the thread, drops what it gathered ahead and closes `batches`.

    Args:
      batches: The host batches, in order (e.g. `Plan.batches(epoch, start)`).
      put: Places one item on the device, e.g. `jax.device_put`; called on
        this thread, in order, `depth` items before the item is yielded.
      depth: Items put ahead of the one being consumed. Default 2: the next
        two steps' batches are on their way while one step runs. 0 puts each
        item just before it is yielded (no prefetching).
      thread: Make the items on a background thread, at most `max(depth, 1)`
        ahead in a bounded queue. False makes them on this thread.
      start: The index of the first batch, for error messages (e.g. the
        batch of the epoch a resumed epoch starts at).
      host: Optional `host(batches) -> items`, run where the batches are made
        (on the thread): e.g. grouping batches into stacked chunks. Default:
        the batches themselves.

    Raises:
      ValueError: if `depth` is negative (at the call, not the first item).
      TypeError: if `depth` is not an int.
      Exception: whatever making (or putting) a batch raised, raised here
        once the batches before it are yielded, with a note naming its index.
    """
    _checks.non_negative_int("prefetch", "depth", depth)
    return _feed(batches, put, depth, thread, start, host)


def _feed(batches, put, depth: int, thread: bool, start: int, host) -> Iterator:
    """`prefetch`'s generator (so its arguments are checked at the call)."""
    items = _named(batches, start)
    items = iter(items if host is None else host(items))
    if not thread:
        try:
            yield from _ahead(items, put, depth)
        finally:
            _close(items)
        return
    out: queue.Queue = queue.Queue(max(depth, 1))
    stop = threading.Event()
    worker = threading.Thread(
        target=_produce, args=(items, out, stop), name="jnn-prefetch", daemon=True
    )
    worker.start()
    try:
        yield from _ahead(_received(out), put, depth)
    finally:
        _stop(worker, out, stop)


def _named(batches: Iterable, start: int) -> Iterator:
    """The batches, an exception while making one noted with its index."""
    iterator = iter(batches)
    index = start
    try:
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except Exception as error:
                error.add_note(f"prefetch: raised while making batch {index}")
                raise
            yield batch
            index += 1
    finally:
        _close(iterator)


def _ahead(items: Iterator, put, depth: int) -> Iterator:
    """`put(item)` for each item, yielded once `depth` later ones are put.

    An error making or putting an item is raised once the items before it
    are yielded: where it would be raised without prefetching.
    """
    placed: collections.deque = collections.deque()
    try:
        for item in items:
            placed.append(put(item))
            if len(placed) > depth:
                yield placed.popleft()
    except Exception:
        while placed:
            yield placed.popleft()
        raise
    while placed:
        yield placed.popleft()


class _Raised(NamedTuple):
    error: BaseException  # what making an item raised on the thread


_END = object()  # the thread's last item: the batches ran out


def _produce(items: Iterator, out: queue.Queue, stop: threading.Event) -> None:
    """The thread: items into `out` until they run out or `stop` is set."""
    try:
        while not stop.is_set():
            item = next(items, _END)
            out.put(item)  # blocks while `depth` items wait: the bound
            if item is _END:
                return
    except BaseException as error:  # re-raised by the consumer (`_received`)
        out.put(_Raised(error))
    finally:
        _close(items)


def _received(out: queue.Queue) -> Iterator:
    """The thread's items, in order; its exception raised here."""
    while True:
        item = out.get()
        if item is _END:
            return
        if isinstance(item, _Raised):
            raise item.error
        yield item


def _stop(worker: threading.Thread, out: queue.Queue, stop: threading.Event):
    """End the thread: no more items, and a full queue emptied so a blocked
    `put` returns; waits out the item being made, if any."""
    stop.set()
    while worker.is_alive():
        try:
            while True:
                out.get_nowait()
        except queue.Empty:
            pass
        worker.join(timeout=0.01)


def _close(iterator) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
