"""Fail loudly on NaN/Inf: turn a step's `nonfinite` code into an error or a skip.

The jitted step (`make_train_step(..., guard_nonfinite=True)`) never applies
a non-finite update; it reports where the first non-finite value appeared
as an int code (see `jnn.train.step.nonfinite_code`). The host loop reads that
code once per step: with `train.on_nonfinite = "stop"` (the default) the run
stops with the step number and the leaf path, with "skip" the update is
dropped and counted in the epoch's `skipped_steps`.
"""

import jax

from jnn import _checks

MODES = ("stop", "skip")


class NonFiniteError(_checks.JnnValueError):
    """A training step produced a NaN or Inf objective or gradient."""

    def __init__(self, where: str, message: str, step: int, leaf: str):
        super().__init__(where, message)
        self.step = step
        self.leaf = leaf


def describe(code: int, params) -> str:
    """Name the value behind a `nonfinite` code: the objective or a grad path."""
    if code == 0:
        return "the loss (objective)"
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree.leaves_with_path(params)]
    if code > len(paths):  # every leaf finite, but the squared norm overflowed
        return "the global gradient norm (finite gradients too large to square)"
    return f"the gradient of params{paths[code - 1]}"


def error(code: int, step: int, params) -> NonFiniteError:
    """Build the stop error for the update that would have been step `step`."""
    leaf = describe(code, params)
    message = _checks.message(
        "a finite loss and finite gradients",
        f"a non-finite value at step {step} (0-based update index) in {leaf}",
        "lower optim.lr, add optim.clip_norm, check the data for NaN/Inf, "
        "or set train.on_nonfinite = 'skip' to drop such updates",
    )
    return NonFiniteError("train", message, step, leaf)
