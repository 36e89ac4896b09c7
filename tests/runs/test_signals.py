"""`catch_preemption`: signals are recorded, handlers restored, exit codes named."""

import signal
import threading
from pathlib import Path

import pytest

from jnn.runs.signals import Preempted, catch_preemption, exit_code


def test_signal_is_recorded_instead_of_ending_the_process():
    before = signal.getsignal(signal.SIGTERM)
    with catch_preemption() as received:
        assert received() is None
        signal.raise_signal(signal.SIGTERM)
        assert received() == signal.SIGTERM
        # the first signal puts the old handler back: a second acts as usual
        assert signal.getsignal(signal.SIGTERM) == before
    assert signal.getsignal(signal.SIGTERM) == before


def test_second_sigint_interrupts_at_once():
    # Python's own SIGINT handler first, whatever the test runner installed
    # (one full-suite run under xdist once saw the second SIGINT pass).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _second_sigint_raises()
    finally:
        signal.signal(signal.SIGINT, before)


def _second_sigint_raises():
    with catch_preemption() as received:
        signal.raise_signal(signal.SIGINT)
        assert received() == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_other_threads_install_nothing():
    seen = []

    def worker():
        with catch_preemption() as received:
            seen.append((received(), signal.getsignal(signal.SIGTERM)))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [(None, before)]


def test_exit_codes_follow_the_shell_convention():
    event = Preempted(signal.SIGTERM, 12, Path("run/checkpoints/ckpt_00000012"))
    assert event.exit_code == exit_code(signal.SIGTERM) == 143
    assert exit_code(signal.SIGINT) == 130
    assert str(event) == "SIGTERM at step 12; checkpoint run/checkpoints/ckpt_00000012"
