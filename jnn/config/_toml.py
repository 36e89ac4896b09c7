"""A minimal TOML writer for configs (the standard library only reads TOML)."""

from collections.abc import Mapping
from typing import Any

from jnn import _checks


def plain(value: Any) -> Any:
    """Turn mappings and tuples into plain dicts and lists (TOML/JSON data)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def document(tables: Mapping[str, Mapping[str, Any]], header: str) -> str:
    """Render `{section: {key: value}}` as TOML; a dict value is a sub-table.

    Example:
      >>> print(document({"a": {"x": 1, "b": {"y": "z"}}}, "# demo"))
      # demo
      <BLANKLINE>
      [a]
      x = 1
      <BLANKLINE>
      [a.b]
      y = "z"
      <BLANKLINE>
    """
    lines = [header]
    for name, table in tables.items():
        _table(lines, name, table)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], name: str, table: Mapping[str, Any]) -> None:
    subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if len(subtables) < len(table) or not subtables:
        lines.append(f"\n[{name}]")
        lines.extend(
            f"{_key(k)} = {value(v)}" for k, v in table.items() if k not in subtables
        )
    for key, subtable in subtables.items():
        _table(lines, f"{name}.{_key(key)}", subtable)


def value(item: Any) -> str:
    """Render one value as TOML (strings escaped, floats exact, tables inline)."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return repr(item)  # repr round-trips floats exactly; inf/nan are TOML too
    if isinstance(item, str):
        return _string(item)
    if isinstance(item, list):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        pairs = (f"{_key(k)} = {value(v)}" for k, v in item.items())
        return "{" + ", ".join(pairs) + "}"
    raise _checks.type_error(
        "to_toml",
        "a str, bool, number, list or table",
        f"{type(item).__name__} {item!r}",
    )


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else _string(key)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _string(text: str) -> str:
    def escape(c: str) -> str:
        if c in _ESCAPES:
            return _ESCAPES[c]
        return f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c

    return '"' + "".join(escape(c) for c in text) + '"'
