"""Tiny validators that build every jnn error message through one path.

Messages follow `<where>: expected <what>, got <actual>.[ Hint: <fix>.]`.
Errors raised inside a layer carry a key path that combinators extend as the
error travels outwards, so the final message names the layer's position in the
parameter tree, e.g. `dense at 'hidden': expected ...`.
"""

import math
from collections.abc import Iterable, Sequence
from typing import Any


class JnnError(Exception):
    """Base of jnn's errors: `where` plus a message, and a growing key path."""

    def __init__(self, where: str, message: str):
        super().__init__(where, message)
        self.where = where
        self.message = message
        self.path: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = self.where
        if self.path:
            where = f"{where} at '{'/'.join(self.path)}'"
        return f"{where}: {self.message}"


class JnnValueError(JnnError, ValueError):
    """A bad value or shape."""


class JnnTypeError(JnnError, TypeError):
    """A value of the wrong kind."""


def message(expected: str, got: str, hint: str | None = None) -> str:
    """Format the body of an error: 'expected X, got Y.[ Hint: Z.]'."""
    text = f"expected {expected}, got {got}."
    if hint:
        hint = hint.rstrip(".")
        text += f" Hint: {hint}" + ("" if hint.endswith("?") else ".")
    return text


def value_error(where: str, expected: str, got: Any, hint: str | None = None):
    """Build (not raise) a `JnnValueError` with the house message format."""
    return JnnValueError(where, message(expected, str(got), hint))


def type_error(where: str, expected: str, got: Any, hint: str | None = None):
    """Build (not raise) a `JnnTypeError` with the house message format."""
    return JnnTypeError(where, message(expected, str(got), hint))


def prefix_path(error: JnnError, name: str | int) -> JnnError:
    """Prepend one key-path component to an error travelling out of a child."""
    error.path = (str(name), *error.path)
    return error


def call_child(name: str | int, fn, *args, **kwargs):
    """Call a child layer's init/apply, adding `name` to any jnn error's path."""
    try:
        return fn(*args, **kwargs)
    except JnnError as error:
        raise prefix_path(error, name) from None


def fmt_shape(shape: Iterable[int]) -> str:
    """Render a shape as `(2, 3)`, the way Python prints tuples."""
    return str(tuple(int(d) for d in shape))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(where: str, name: str, value: Any) -> int:
    """Return `value` if it is an int > 0, else raise naming `name`."""
    if not _is_int(value):
        raise type_error(where, f"`{name}` to be an int", repr(value))
    if value <= 0:
        raise value_error(where, f"`{name}` > 0", value)
    return value


def non_negative_int(where: str, name: str, value: Any) -> int:
    """Return `value` if it is an int >= 0, else raise naming `name`."""
    if not _is_int(value):
        raise type_error(where, f"`{name}` to be an int", repr(value))
    if value < 0:
        raise value_error(where, f"`{name}` >= 0", value)
    return value


def finite_float(where: str, name: str, value: Any, low=-math.inf, high=math.inf):
    """Return `value` as float if it is a finite real in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(where, f"`{name}` to be a number", repr(value))
    if not math.isfinite(value) or not low <= value <= high:
        raise value_error(where, f"`{name}` finite and in [{low}, {high}]", value)
    return float(value)


def probability(where: str, name: str, value: Any, *, allow_one: bool = False):
    """Return `value` if it lies in [0, 1) (or [0, 1] with `allow_one`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(where, f"`{name}` to be a number", repr(value))
    ok = 0.0 <= value <= 1.0 if allow_one else 0.0 <= value < 1.0
    if not ok:
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise value_error(where, f"`{name}` in {interval}", value)
    return float(value)


def one_of(where: str, name: str, value: Any, choices: Sequence[Any]):
    """Return `value` if it is one of `choices`, else list them and suggest one."""
    if value in choices:
        return value
    hint = did_you_mean(str(value), [str(c) for c in choices])
    raise value_error(
        where, f"`{name}` to be one of {sorted(map(str, choices))}", repr(value), hint
    )


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """Return 'did you mean X?' for the closest choice, or None if none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def expect_rank(where: str, x: Any, rank: int, legend: str, hint: str | None = None):
    """Raise unless `x.shape` has exactly `rank` axes; `legend` names them."""
    if len(x.shape) != rank:
        raise value_error(
            where,
            f"input of rank {rank} {legend}",
            f"shape {fmt_shape(x.shape)}",
            hint,
        )


def expect_min_rank(where: str, x: Any, rank: int, legend: str):
    """Raise unless `x.shape` has at least `rank` axes; `legend` names them."""
    if len(x.shape) < rank:
        raise value_error(
            where, f"input of rank >= {rank} {legend}", f"shape {fmt_shape(x.shape)}"
        )


def expect_floating(where: str, name: str, x: Any):
    """Raise unless `x` has a floating dtype (no silent int -> float casts)."""
    import jax.numpy as jnp

    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise type_error(
            where,
            f"`{name}` with a floating dtype",
            f"dtype {x.dtype}",
            "cast explicitly, e.g. x.astype(jnp.float32)",
        )
