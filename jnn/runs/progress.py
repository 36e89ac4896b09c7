"""A dependency-free progress display for the run loop, shown only on a terminal.

The loop reports each finished batch as a `BatchEnd` and the start and end of
each phase (an epoch, compiling the train step, validating) as a `Phase`;
`bar(stream, epochs)` returns a `Progress` of the two callbacks that draw it.
Every task gets the same display (a GAN's "epoch" is one evaluation period).
A line shows the epoch and its batches, the epoch's elapsed time and ETA, the
whole run's ETA, steps/s and examples/s, and the running train metrics. It is
redrawn in place with `\\r` at most every `min_interval` seconds, because
reading the running loss back from the device forces a sync that would
otherwise stall the step pipeline; it fits the terminal's width by dropping
whole fields from the right, never cutting a number in half. Off a terminal
(CI, a log file, a pipe) `bar` returns None and nothing is written: the
per-epoch log line is enough there, and `\\r` redraws would fill logs with
thousands of half-lines.
"""

import shutil
import time
from collections.abc import Callable
from typing import NamedTuple, TextIO

from jnn.runs.console import console_metrics

_WIDTH = 20  # characters of the bar itself

PHASES = {"compile": "compiling the train step…", "validate": "validating…"}


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


class Phase(NamedTuple):
    """A phase of the loop begins or ends: "epoch", "compile" or "validate"."""

    name: str
    epoch: int  # 0-based epoch it belongs to
    begun: bool  # True when it begins, False when it ends


class Progress(NamedTuple):
    """The loop's progress callbacks (see `jnn.runs.loop.Hooks`)."""

    on_batch: Callable[[BatchEnd], None]
    on_phase: Callable[[Phase], None]


def is_terminal(stream) -> bool:
    """Whether `stream` is an interactive terminal (False if it cannot say)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def clock_time(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on.

    Example:
      >>> clock_time(75.4), clock_time(3725)
      ('1:15', '1:02:05')
    """
    s = int(seconds)
    hours, minutes = divmod(s // 60, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{s % 60:02d}"
    return f"{minutes}:{s % 60:02d}"


def fit(fields: list[str], width: int, sep: str = "  ") -> str:
    """Join `fields`, dropping whole ones from the right to fit `width`.

    Example:
      >>> fit(["ep 1/2", "loss 0.5", "acc 0.9"], 17)
      'ep 1/2  loss 0.5'
    """
    while len(fields) > 1 and len(sep.join(fields)) > width:
        fields = fields[:-1]
    return sep.join(fields)[:width]  # only a single over-long field is cut


class _Timing:
    """Step rate and phase times, with compile and validation left out."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.epoch_start = None  # when the current epoch began
        self.since = None  # (time, batch) this epoch's rate counts from
        self.start_at = None  # (time, steps of the next batch it covers)
        self.last = None  # (time, batch) of the latest batch
        self.steps, self.seconds = 0, 0.0  # finished epochs' timed steps
        self.validate_s = 0.0  # the last validation's duration
        self.phase_start = 0.0

    def totals(self) -> tuple[int, float]:
        """Timed steps and seconds of the run up to the latest batch."""
        steps, seconds = self.steps, self.seconds
        if self.since is not None and self.last is not None:
            steps += self.last[1] - self.since[1]
            seconds += self.last[0] - self.since[0]
        return steps, seconds

    def rate(self) -> float | None:
        """Steps per second over the run so far, or None before any is timed."""
        steps, seconds = self.totals()
        return steps / seconds if steps > 0 and seconds > 0 else None

    def times(self, now: float, info: BatchEnd, rate, num_batches):
        """(elapsed, epoch ETA, run ETA) in seconds; ETAs None without a rate."""
        elapsed = now - self.epoch_start
        if rate is None:
            return elapsed, None, None
        left = info.num_batches - info.batch
        later = range(info.epoch + 1, self.epochs)
        length = num_batches or (lambda e: info.num_batches)  # None: all alike
        steps_after = sum(length(e) for e in later)
        validations = (len(later) + 1) * self.validate_s
        return elapsed, left / rate, (left + steps_after) / rate + validations


def bar(
    stream: TextIO,
    epochs: int,
    *,
    num_batches: Callable[[int], int] | None = None,
    min_interval: float = 0.1,
    columns: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Progress | None:
    """Return the `Progress` callbacks drawing on `stream`, or None off a TTY.

    Args:
      stream: Where to draw, usually `sys.stderr`.
      epochs: Total epochs, shown as `ep 3/50`.
      num_batches: `num_batches(epoch)` of every epoch, for the run's ETA;
        None assumes every epoch is as long as the current one.
      min_interval: Seconds between redraws (the first and last batch of an
        epoch are always drawn). Each redraw syncs with the device once.
      columns: Terminal width; whole fields are dropped to fit it, since a
        wrapped line cannot be redrawn with `\\r`. Default: the terminal's
        width at each redraw.
      clock: Time source, replaceable in tests.

    Example:
      >>> import io
      >>> bar(io.StringIO(), epochs=3) is None  # not a terminal: stay quiet
      True
    """
    if not is_terminal(stream):
        return None
    timing, drawn = _Timing(epochs), {"at": -float("inf")}

    def draw(line, end: str = "") -> None:
        width = (columns or shutil.get_terminal_size().columns) - 1
        text = line if isinstance(line, str) else fit(line, width)
        stream.write(f"\r{text[:width]}\x1b[K{end}")  # \x1b[K: clear the rest
        stream.flush()

    def on_phase(phase: Phase) -> None:
        now, head = clock(), f"ep {phase.epoch + 1}/{epochs}"
        if phase.name == "epoch" and phase.begun:
            timing.epoch_start, timing.start_at = now, (now, 1)
            timing.since, timing.last = None, None
        elif phase.name == "epoch":  # its timed steps join the run's rate
            timing.steps, timing.seconds = timing.totals()
            timing.since = None
        elif phase.begun:
            timing.phase_start = now
            draw([head, PHASES[phase.name]])
        elif phase.name == "compile":
            timing.start_at = (now, 0)  # the rate counts from the compiled step on
            seconds = now - timing.phase_start
            draw(f"{head}  compiled the train step in {seconds:.2f}s", "\n")
        else:  # validation ended: a clean line for the epoch's log line
            timing.validate_s = now - timing.phase_start
            draw("")

    def on_batch(info: BatchEnd) -> None:
        now = clock()
        if timing.epoch_start is None:  # used without phases: time from here
            timing.epoch_start, timing.since = now, (now, info.batch)
        if timing.start_at is not None:  # a resumed epoch starts past batch 0
            at, covered = timing.start_at
            timing.since, timing.start_at = (at, info.batch - covered), None
        timing.last = (now, info.batch)
        last = info.batch == info.num_batches
        if info.batch != 1 and not last and now - drawn["at"] < min_interval:
            return
        drawn["at"] = now
        rate = timing.rate()
        times = timing.times(now, info, rate, num_batches)
        draw(render(info, epochs, rate=rate, times=times, as_fields=True))

    return Progress(on_batch, on_phase)


def render(
    info: BatchEnd,
    epochs: int,
    seconds: float | None = None,
    *,
    rate: float | None = None,
    times: tuple | None = None,
    as_fields: bool = False,
):
    """Format one progress line: epoch, bar, batches, times, loss, rates, metrics.

    `seconds` (the epoch's elapsed time) stands in for `rate` and `times`
    when they are not given: the rate is then batches over `seconds`.

    Example:
      >>> info = BatchEnd(0, 5, 10, 320.0, {"accuracy": 288.0, "loss": 160.0})
      >>> render(info, 4, 2.0)
      'ep 1/4 [##########..........] 5/10  0:02  eta 0:02  loss 0.5000  2.5 step/s  160 ex/s  acc 0.9000'
    """
    if times is None:
        rate = info.batch / seconds if seconds else None
        left = (info.num_batches - info.batch) / rate if rate else None
        times = (seconds or 0.0, left, None)
    elapsed, eta, run_eta = times
    done = round(_WIDTH * info.batch / max(info.num_batches, 1))
    fields = [
        f"ep {info.epoch + 1}/{epochs} [{'#' * done}{'.' * (_WIDTH - done)}]"
        f" {info.batch}/{info.num_batches}",
        clock_time(elapsed),
    ]
    if eta is not None:
        fields.append(f"eta {clock_time(eta)}")
    count = float(info.count) or 1.0
    totals = info.totals or {}  # None until the loop has read back a step
    means = {name: float(v) / count for name, v in totals.items()}
    metrics = [f"{name} {value:.4f}" for name, value in console_metrics(means)]
    fields += metrics[:1]  # the loss before what a narrow terminal drops
    if run_eta is not None and info.epoch + 1 < epochs:
        fields.append(f"run eta {clock_time(run_eta)}")
    if rate:
        fields.append(f"{rate:.3g} step/s")
        per_batch = float(info.count) / max(info.batch, 1)
        if per_batch != 1:  # a GAN step weighs 1: its ex/s would be step/s
            fields.append(f"{rate * per_batch:.0f} ex/s")
    fields += metrics[1:]
    return fields if as_fields else "  ".join(fields)
