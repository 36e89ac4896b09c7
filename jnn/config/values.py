"""Coerce one config value to its field's type, or raise naming its dotted key."""

import math
from collections.abc import Callable, Mapping
from typing import Any

from jnn import _checks
from jnn.config import _toml


def got(value: Any) -> str:
    """`value` as error messages show it: its type and repr."""
    return f"{type(value).__name__} {value!r}"


def coerce(kind: Any, where: str, dotted: str, value: Any) -> Any:
    """Return `value` as a `kind` (str, bool, int, float, tuple[int, ...] or
    tuple[dict[str, Any], ...]); int -> float is the only conversion.

    Raises:
      TypeError: if `value` is not of that kind.
      ValueError: for a float that is not finite.
    """
    return _COERCE[kind](where, dotted, value)


def _as_str(where: str, dotted: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _checks.type_error(where, f"`{dotted}` to be a str", got(value))
    return value


def _as_bool(where: str, dotted: str, value: Any) -> bool:
    if not isinstance(value, bool):
        hint = "use true or false" if isinstance(value, str | int) else None
        raise _checks.type_error(where, f"`{dotted}` to be a bool", got(value), hint)
    return value


def _as_int(where: str, dotted: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _checks.type_error(where, f"`{dotted}` to be an int", got(value))
    return value


def _as_float(where: str, dotted: str, value: Any) -> float:
    # int -> float is the one allowed coercion: `lr = 1` clearly means 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _checks.type_error(where, f"`{dotted}` to be a float", got(value))
    if not math.isfinite(value):
        raise _checks.value_error(where, f"`{dotted}` to be finite", repr(value))
    return float(value)


def _as_list(where: str, dotted: str, value: Any, what: str) -> list:
    if not isinstance(value, list | tuple):
        raise _checks.type_error(
            where, f"`{dotted}` to be an array of {what}", got(value)
        )
    return list(value)


def _as_int_tuple(where: str, dotted: str, value: Any) -> tuple[int, ...]:
    items = _as_list(where, dotted, value, "ints")
    return tuple(_as_int(where, f"{dotted}[{i}]", v) for i, v in enumerate(items))


def _as_layers(where: str, dotted: str, value: Any) -> tuple[dict[str, Any], ...]:
    items = _as_list(where, dotted, value, 'tables like {type = "dense", ...}')
    return tuple(_as_layer(where, f"{dotted}[{i}]", v) for i, v in enumerate(items))


def _as_layer(where: str, dotted: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _checks.type_error(where, f"`{dotted}` to be a table", got(value))
    if "type" not in value:
        raise _checks.value_error(
            where, f"`{dotted}` to have a `type` key", f"keys {sorted(value)}"
        )
    _as_str(where, f"{dotted}.type", value["type"])
    return _toml.plain(dict(value))  # lists, not tuples, so TOML round-trips exactly


_COERCE: dict[Any, Callable[[str, str, Any], Any]] = {
    str: _as_str,
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    tuple[int, ...]: _as_int_tuple,
    tuple[dict[str, Any], ...]: _as_layers,
}
