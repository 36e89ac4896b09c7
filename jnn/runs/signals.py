"""Pre-emption: SIGTERM/SIGINT finish the current dispatch, checkpoint, exit.

`catch_preemption()` swaps in handlers that only record the signal; `fit`
polls the flag after every dispatch (a step, or the steps `jnn.runs.fusing`
fuses into one: about 1 s of work at most, by default), commits a
checkpoint at that step and raises
`Preempted`. The CLI turns that into exit code 128 + signal number (143 for
SIGTERM, 130 for SIGINT), the shell convention for "ended by this signal", so
schedulers see a signal death yet the run can be resumed with
`--resume auto`. After the first signal the previous handler is back, so a
second Ctrl-C interrupts at once.
"""

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
    """Raised by `fit` after a signal, once the checkpoint is committed."""

    def __init__(self, signum: int, step: int, checkpoint: Path | None):
        name = signal.Signals(signum).name
        super().__init__(f"{name} at step {step}; checkpoint {checkpoint}")
        self.signum = signum
        self.step = step
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 143 for SIGTERM, 130 for SIGINT."""
        return 128 + self.signum


def exit_code(signum: int) -> int:
    """The CLI's exit status after pre-emption by `signum`."""
    return 128 + signum


@contextmanager
def catch_preemption(signals=SIGNALS) -> Iterator[Callable[[], int | None]]:
    """Record SIGTERM/SIGINT instead of dying; yield `received() -> signum | None`.

    Python delivers signals to the main thread only; entered from another
    thread it installs nothing and `received()` is always None.
    """
    received: list[int] = []
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        signals = ()

    def handler(signum, frame):
        del frame
        received.append(signum)
        signal.signal(signum, previous[signum])  # a second signal acts as usual

    for signum in signals:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield lambda: received[0] if received else None
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
