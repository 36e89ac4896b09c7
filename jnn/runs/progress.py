"""A dependency-free progress bar for the training loop, shown only on a terminal.

The loop reports each finished batch as a `BatchEnd`; `bar(stream, epochs)`
returns the callback that draws it. The bar is redrawn in place with `\\r` at
most every `min_interval` seconds, because reading the running loss back from
the device forces a sync that would otherwise stall the step pipeline. Off a
terminal (CI, a log file, a pipe) `bar` returns None and nothing is written:
the per-epoch log line that `fit` prints is enough there, and `\\r` redraws
would fill logs with thousands of half-lines.
"""

import shutil
import time
from collections.abc import Callable
from typing import NamedTuple, TextIO

_WIDTH = 20  # characters of the bar itself


class BatchEnd(NamedTuple):
    """What the loop knows after one training batch of an epoch.

    Attributes:
      epoch: 0-based epoch index.
      batch: 1-based number of batches done in this epoch.
      num_batches: Batches in this epoch.
      count: Examples done in this epoch (padding excluded).
      totals: Example-weighted metric sums (device scalars); divide by `count`.
    """

    epoch: int
    batch: int
    num_batches: int
    count: float
    totals: dict | None  # None before the first step is read back


def is_terminal(stream) -> bool:
    """Whether `stream` is an interactive terminal (False if it cannot say)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def bar(
    stream: TextIO,
    epochs: int,
    *,
    min_interval: float = 0.1,
    columns: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[BatchEnd], None] | None:
    """Return an `on_batch` callback drawing a bar on `stream`, or None off a TTY.

    Args:
      stream: Where to draw, usually `sys.stderr`.
      epochs: Total epochs, shown as `epoch 3/50`.
      min_interval: Seconds between redraws (the first and last batch of an
        epoch are always drawn). Each redraw syncs with the device once.
      columns: Terminal width; lines are cut to fit, since a wrapped line
        cannot be redrawn with `\r`. Default: the current terminal's width.
      clock: Time source, replaceable in tests.

    Example:
      >>> import io
      >>> bar(io.StringIO(), epochs=3) is None  # not a terminal: stay quiet
      True
    """
    if not is_terminal(stream):
        return None
    width = (columns or shutil.get_terminal_size().columns) - 1
    started, drawn = {}, {"at": -float("inf")}

    def on_batch(info: BatchEnd) -> None:
        now = clock()
        start = started.setdefault(info.epoch, now)
        last = info.batch == info.num_batches
        if info.batch != 1 and not last and now - drawn["at"] < min_interval:
            return
        drawn["at"] = now
        line = render(info, epochs, now - start)[:width]
        stream.write(f"\r{line}\x1b[K")  # \x1b[K clears a longer previous line
        if last:  # leave a clean line for the epoch's log line
            stream.write("\r\x1b[K")
        stream.flush()

    return on_batch


def render(info: BatchEnd, epochs: int, seconds: float) -> str:
    """Format one bar line: epoch, bar, batches, throughput, running metrics.

    Example:
      >>> info = BatchEnd(0, 5, 10, 320.0, {"accuracy": 288.0, "loss": 160.0})
      >>> render(info, 4, 2.0)
      'epoch 1/4 [##########..........]  5/10  160 ex/s  loss 0.5000  accuracy 0.9000'
    """
    done = round(_WIDTH * info.batch / max(info.num_batches, 1))
    parts = [
        f"epoch {info.epoch + 1}/{epochs} [{'#' * done}{'.' * (_WIDTH - done)}]",
        f"{info.batch}/{info.num_batches}",
    ]
    if seconds > 0:
        parts.append(f"{float(info.count) / seconds:.0f} ex/s")
    count = float(info.count) or 1.0
    totals = info.totals or {}  # None until the loop has read back a step
    names = sorted(totals, key=lambda name: name != "loss")  # loss first
    parts += [f"{name} {float(totals[name]) / count:.4f}" for name in names]
    return "  ".join(parts)
