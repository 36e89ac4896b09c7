"""Refusals of keys a chosen schema does not read, with hints on where they are.

A key can be read elsewhere under another choice of a tag (another data
source, model kind or task), belong in another section, have moved, or be a
typo; the hint says which, e.g. "`data.path` is read by data sources text,
arrays".
"""

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from jnn import _checks
from jnn.config.schema import Layout, Tagged, is_read, is_table, join

Choice = tuple[tuple[str, str], ...]  # (tag key, value) pairs chosen so far


class Sources(NamedTuple):
    """Where values came from: `--set` for overridden keys, else `default`."""

    default: str  # the file, "<dict>", "--set", ...
    overridden: Mapping[str, str]  # dotted key -> the source that set it
    soft: bool = False  # values not overridden may be dropped when not read
    switched: tuple[str, ...] = ()  # tables whose tag an override changed
    previous: Mapping[str, Any] = MappingProxyType({})  # overridden key -> before

    def of(self, *dotted: str) -> str:
        for name in dotted:
            if name in self.overridden:
                return self.overridden[name]
        return self.default

    def carried(self, dotted: str, switched: bool = False) -> bool:
        """Whether an unread value at `dotted` came along rather than being
        asked for: `replace` carried it over, or an override switched the
        choice that read it (`switched`, or a tag of a table around it)."""
        inside = any(k.startswith(f"{dotted}.") for k in self.overridden)
        if dotted in self.overridden or inside:
            return False
        around = any(not p or dotted.startswith(f"{p}.") for p in self.switched)
        return self.soft or switched or around


class Ctx(NamedTuple):
    """What building (or writing) a config carries for its error messages."""

    sources: Sources
    root: Any  # the whole schema, for hints on where a key would be read
    moved: Mapping[str, str]  # old dotted key -> its new place (of the layout)


class _Home(NamedTuple):
    dotted: str  # a setting or table, or "key=tag" for a choice of a tag
    conditions: Choice  # the tag values it needs
    table: bool


def _homes(schema: Any, path: str = "", conditions: Choice = ()) -> Iterator[_Home]:
    """Every setting, table and tag choice of `schema`, with its conditions."""
    if isinstance(schema, Tagged):
        key = join(path, schema.key)
        for tag, variant in schema.variants.items():
            yield _Home(f"{key}={tag}", conditions, False)
            yield from _homes(variant, path, (*conditions, (key, tag)))
    elif isinstance(schema, Layout):
        for name, section in schema.sections.items():
            yield _Home(join(path, name), conditions, True)
            yield from _homes(section, join(path, name), conditions)
    else:
        for field in dataclasses.fields(schema):
            dotted = join(path, field.name)
            read_if = field.metadata.get("read_if")
            if is_table(field.type):
                yield _Home(dotted, conditions, True)
                yield from _homes(field.type, dotted, conditions)
            elif read_if is None:
                yield _Home(dotted, conditions, False)
            else:
                key = join(path, read_if[0])
                for value in read_if[1]:
                    yield _Home(dotted, (*conditions, (key, value)), False)


def _labels(schema: Any, path: str = "") -> dict[str, str]:
    """{tag key: label} of every `Tagged` in `schema`."""
    if isinstance(schema, Tagged):
        found = {join(path, schema.key): schema.label}
        for variant in schema.variants.values():
            found |= _labels(variant, path)
        return found
    if isinstance(schema, Layout):
        items = schema.sections.items()
        return {k: v for n, s in items for k, v in _labels(s, join(path, n)).items()}
    return {}


def is_read_somewhere(root: Any, dotted: str) -> bool:
    """Whether some choice of `root` reads the setting or table `dotted`."""
    return any(home.dotted == dotted for home in _homes(root))


def context(choice: Choice) -> str:
    """ " for data.name 'digits'": the innermost choice that shaped a table."""
    return f" for {choice[-1][0]} {choice[-1][1]!r}" if choice else ""


def readers(root: Any, dotted: str, chosen: Mapping[str, str]) -> str | None:
    """Which other choices read `dotted`: "data sources text, arrays", or
    "train.task 'gan' only"; the choices closest to the current one win."""
    scored = []
    for home in _homes(root):
        if home.dotted != dotted:
            continue
        matched = 0
        while matched < len(home.conditions):
            key, value = home.conditions[matched]
            if chosen.get(key) != value:
                scored.append((matched, key, value))
                break
            matched += 1
    if not scored:
        return None
    best = max(m for m, _, _ in scored)
    groups: dict[str, list[str]] = {}
    for m, key, value in scored:
        values = groups.setdefault(key, []) if m == best else [value]
        if value not in values:
            values.append(value)
    labels = _labels(root)
    return " and ".join(
        f"{key} {values[0]!r} only"
        if len(values) == 1
        else f"{labels.get(key, key)} {', '.join(values)}"
        for key, values in groups.items()
    )


def readers_hint(root: Any, dotted: str, chosen: Mapping, table: bool) -> str | None:
    """ "section [gan] is read by train.task 'gan' only", or None."""
    found = readers(root, dotted, chosen)
    subject = f"section [{dotted}]" if table else f"`{dotted}`"
    return f"{subject} is read by {found}" if found else None


def tag_hint(root: Any, key: str, tag: str, chosen: Mapping) -> str | None:
    """ "`data.name` = 'ring' is read by train.task 'gan' only", or None."""
    found = readers(root, f"{key}={tag}", chosen)
    return f"`{key}` = {tag!r} is read by {found}" if found else None


def _belongs(root: Any, dotted: str, chosen: Mapping) -> str | None:
    """ "`lr` belongs in [optim]: use optim.lr" for a key in the wrong table."""
    key = dotted.rsplit(".", 1)[-1]
    found = [
        h
        for h in _homes(root)
        if not h.table and h.dotted != dotted and h.dotted.rsplit(".", 1)[-1] == key
    ]
    here = [h for h in found if all(chosen.get(k, v) == v for k, v in h.conditions)]
    places = list(dict.fromkeys(h.dotted for h in here or found))
    if not places:
        return None
    tables = " or ".join(f"[{p.rsplit('.', 1)[0]}]" for p in places)
    return f"`{key}` belongs in {tables}: use {' or '.join(places)}"


def _hint(ctx, dotted: str, choice: Choice, table: bool, candidates) -> str | None:
    chosen = dict(choice)
    parts = [readers_hint(ctx.root, dotted, chosen, table)]
    if dotted in ctx.moved:
        parts.append(f"use {ctx.moved[dotted]} instead")
    parts = [p for p in parts if p]
    if parts:
        return "; ".join(parts)
    return _belongs(ctx.root, dotted, chosen) or _checks.did_you_mean(
        dotted, candidates
    )


def unread_section(ctx, layout: Layout, dotted: str, value, choice: Choice, where):
    """The error for a section (or top-level key) the chosen layout lacks."""
    table = isinstance(value, Mapping)
    names = sorted(layout.sections)
    expected = f"a section{context(choice)} in [{', '.join(names)}]"
    got = f"[{dotted}]" if table else f"key `{dotted}`"
    return _checks.value_error(
        where, expected, got, _hint(ctx, dotted, choice, table, names)
    )


def unread_key(ctx, cls: type, path: str, key: str, table: bool, choice, current):
    """The error for a key of [path] that the chosen schema `cls` does not read."""
    dotted = join(path, key)
    fields = dataclasses.fields(cls)
    keys = [f.name for f in fields if is_table(f.type) or is_read(f, current)]
    expected = f"a key of [{path}]{context(choice)} in [{', '.join(keys)}]"
    got = f"[{dotted}]" if table else f"`{dotted}`"
    hint = _hint(ctx, dotted, choice, table, [join(path, k) for k in keys])
    return _checks.value_error(ctx.sources.of(dotted), expected, got, hint)
