"""Schema building blocks besides dataclasses: tagged tables and layouts."""

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple


class Tagged(NamedTuple):
    """A table whose schema the value at `key` picks among `variants`.

    `key` is a dotted path inside the table ("name" for [data]; "train.task"
    for a whole config); a variant is a dataclass or a `Layout`, and holds
    the tag as a setting itself (e.g. `name`), so the built object says
    which variant it is.
    """

    key: str
    variants: Mapping[str, Any]
    default: str  # the tag when the key is not set
    label: str  # the variants' plural noun in hints, e.g. "data sources"


class Layout(NamedTuple):
    """A table of named sections, built into `cls` (other fields: None)."""

    cls: type
    sections: Mapping[str, Any]  # section name -> schema
    relations: tuple[Callable[[Any, str], Any], ...] = ()  # (obj, path) -> Problem
    moved: Mapping[str, str] = MappingProxyType({})  # old dotted key -> new place


def join(path: str, key: str) -> str:
    """The dotted name of `key` inside the table at `path` ("" = the top)."""
    return f"{path}.{key}" if path else key


def is_table(kind: Any) -> bool:
    """Whether a field of this type is a sub-table rather than a setting."""
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def is_read(field: dataclasses.Field, current: Mapping[str, Any]) -> bool:
    """Whether `field` is read, given the values of its table's settings."""
    read_if = field.metadata.get("read_if")
    return read_if is None or current[read_if[0]] in read_if[1]
