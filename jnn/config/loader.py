"""The generic config engine: TOML and `--set` overrides into frozen dataclasses.

It knows nothing about jnn's sections. A *schema* says what a table holds:

- a frozen dataclass: each field is a setting, coerced by its type and checked
  by its `setting(...)` metadata (choices, value rules, `read_if`); a field
  typed by a dataclass is a sub-table (`[optim.generator]`) whose missing keys
  take the field default's values. A class attribute `relations` lists checks
  across fields, `(obj, path) -> Problem | None`.
- `Tagged(key, variants, default, label)`: the value at `key`, a dotted path
  inside the table, picks the schema: [data] by `name`, a whole config by
  `train.task`.
- `Layout(cls, sections, relations, moved)`: a table of named sections built
  into `cls`; the fields of `cls` that are not sections are None.

Every key set in a file or by `--set` is read by the chosen schema or refused
with an error naming its dotted path and where it would be read (`hints`).
One exception: a choice switched by an override (`--set model.kind=cnn`, or
`replace`) drops the settings that only the replaced choice read.
`to_plain` (in `jnn.config.plain`) writes a built config back as plain data.
"""

import dataclasses
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from jnn import _checks
from jnn.config import hints
from jnn.config.hints import Ctx, Sources
from jnn.config.plain import to_plain
from jnn.config.schema import Layout, Tagged, is_read, is_table, join
from jnn.config.values import coerce, got


class Rule(NamedTuple):
    """A value rule: `ok(value)` must hold; errors read "expected `key` <text>"."""

    text: str
    ok: Callable[[Any], bool]
    hint: str | None = None


POSITIVE = Rule("> 0", lambda v: v > 0)
NON_NEGATIVE = Rule(">= 0", lambda v: v >= 0)
FRACTION = Rule("in [0, 1)", lambda v: 0 <= v < 1)
UNIT = Rule("in [0, 1]", lambda v: 0 <= v <= 1)
SEED = Rule("in [0, 2**32)", lambda v: 0 <= v < 2**32)  # a portable PRNG seed
NON_EMPTY = Rule("to be non-empty", lambda v: len(v) > 0)


class Problem(NamedTuple):
    """A broken relation between settings, as a relation check reports it."""

    keys: tuple[str, ...]  # dotted settings involved; an overridden one is blamed
    expected: str
    got: str
    hint: str | None = None

    def error(self, where: str) -> _checks.JnnValueError:
        """The error to raise, in the house format, located at `where`."""
        return _checks.value_error(where, self.expected, self.got, self.hint)


def setting(
    default: Any,
    *,
    choices: Sequence[str] | None = None,
    rule: Rule | None = None,
    each: Rule | None = None,
    read_if: tuple[str, Sequence[str]] | None = None,
) -> Any:
    """Return a dataclass field carrying its config metadata.

    Args:
      default: The default value (immutable: a tuple, not a list).
      choices: The allowed values, e.g. an owner's `NAMES` (a mapping: its keys).
      rule: A `Rule` on the whole value.
      each: A `Rule` on every element of a tuple value.
      read_if: `(key, values)`: read only when the sibling setting `key` is one
        of `values`; set otherwise, the setting is refused.
    """
    meta = {
        "choices": None if choices is None else tuple(choices),
        "rule": rule,
        "each": each,
        "read_if": None if read_if is None else (read_if[0], tuple(read_if[1])),
    }
    meta = {k: v for k, v in meta.items() if v is not None}
    return dataclasses.field(default=default, metadata=meta)


# -- reading -------------------------------------------------------------------


def read_toml(where: str, *, empty_ok: bool = True) -> dict[str, Any]:
    """Read the TOML file `where`; errors name it (and the line, for syntax).

    Args:
      where: The file's path.
      empty_ok: Whether a file without settings (blank, or comments only)
        is fine: True for `load` with overrides to fill it in; the CLI
        passes False when there are none, so an empty file is not a run of
        all defaults by mistake.

    Raises:
      ValueError: if the file is missing (suggesting a neighbour), a
        directory, not UTF-8 text (e.g. a binary file), not TOML, or holds
        no settings while not `empty_ok`.
    """
    try:
        with open(where, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        known = [str(p) for p in sorted(Path(where).parent.glob("*.toml"))]
        raise _checks.value_error(
            where,
            "an existing TOML file",
            "no such file",
            _checks.did_you_mean(where, known),
        ) from None
    except IsADirectoryError:
        raise _checks.value_error(
            where, "a TOML file", "a directory", "pass e.g. configs/mlp_digits.toml"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        got = f"bytes that are not UTF-8 text (at byte {error.start})"
        hint = "pass a .toml config, not a binary file (a checkpoint, an .npz)"
        raise _checks.value_error(where, "a UTF-8 TOML text file", got, hint) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _checks.value_error(where, "valid TOML", f"'{error}'") from None
    if not raw and not empty_ok:
        got = "an empty file" if not text.strip() else "only comments"
        hint = "start from a file in configs/, e.g. configs/mlp_digits.toml"
        raise _checks.value_error(where, "a TOML config with settings", got, hint)
    return raw


def apply_overrides(raw: dict, overrides: Sequence[str], source: str) -> tuple:
    """Set each `a.b=value` in `raw` (in place).

    Returns `({dotted key: source}, {dotted key: its value before})`, the
    latter for the keys `raw` had, as `Sources` takes them.

    Values are parsed as TOML values; a bare word that is not TOML is a string.

    Raises:
      ValueError: on an override without '=' or a dotted key.
      TypeError: if `overrides` is a single string.
    """
    if isinstance(overrides, str):
        raise _checks.type_error(
            source, "a sequence of overrides", got(overrides), f"use [{overrides!r}]"
        )
    overridden, previous = {}, {}
    for text in overrides:
        path, value = _parse_override(text, source)
        table = raw
        for i, part in enumerate(path[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                name = ".".join(path[: i + 1])
                raise _checks.type_error(source, f"[{name}] to be a table", got(table))
        dotted = ".".join(path)
        if path[-1] in table and dotted not in overridden:
            previous[dotted] = table[path[-1]]
        table[path[-1]] = value
        overridden[dotted] = source
    return overridden, previous


def _parse_override(text: str, source: str) -> tuple[list[str], Any]:
    if not isinstance(text, str) or "=" not in text:
        raise _checks.value_error(
            source, "an override `section.key=value`", got(text), "e.g. optim.lr=3e-4"
        )
    dotted, value = (part.strip() for part in text.split("=", 1))
    path = dotted.split(".")
    if len(path) < 2 or not all(path):
        raise _checks.value_error(
            source, "a dotted key `section.key` before '='", repr(dotted)
        )
    try:
        parsed = tomllib.loads(f"v = {value}")
    except tomllib.TOMLDecodeError:
        return path, value  # a bare word such as `drop` or `data/mnist`
    if set(parsed) != {"v"}:
        raise _checks.value_error(source, "a single TOML value", repr(value))
    return path, parsed["v"]


# -- building ------------------------------------------------------------------


def build(schema: Any, raw: Any, sources: Sources, path: str = "") -> Any:
    """Validate plain `raw` data against `schema` and build it.

    Args:
      schema: A dataclass, `Tagged` or `Layout`.
      raw: `{key: value}` data, as TOML reads it; missing keys take defaults.
      sources: Names the origin of each value in error messages.
      path: The dotted place of `raw` in a larger config, e.g. "data".

    Raises:
      ValueError: for a key the chosen schema does not read, or a bad value.
      TypeError: for a value of the wrong type.
    """
    return _build(Ctx(sources, schema, {}), schema, raw, path, (), None)


def _build(ctx: Ctx, schema, raw, path: str, choice: tuple, base) -> Any:
    _expect_table(raw, ctx.sources.of(path) if path else ctx.sources.default, path)
    if isinstance(schema, Tagged):
        return _build_tagged(ctx, schema, raw, path, choice)
    if isinstance(schema, Layout):
        return _build_layout(
            ctx._replace(moved=schema.moved), schema, raw, path, choice
        )
    return _build_table(ctx, schema, raw, path, choice, base)


def _build_tagged(ctx: Ctx, schema: Tagged, raw, path: str, choice: tuple) -> Any:
    key = join(path, schema.key)
    where = ctx.sources.of(key)
    *outer, last = schema.key.split(".")
    table = raw
    for i, part in enumerate(outer):
        table = table.get(part, {})
        _expect_table(table, where, join(path, ".".join(outer[: i + 1])))
    tag = coerce(str, where, key, table.get(last, schema.default))
    if _switched(ctx, key, schema.default, tag):  # settings of the old choice go
        switched = (*ctx.sources.switched, path)
        ctx = ctx._replace(sources=ctx.sources._replace(switched=switched))
    if tag not in schema.variants:
        hint = hints.tag_hint(ctx.root, key, tag, dict(choice))
        raise _checks.value_error(
            where,
            f"`{key}` to be one of {sorted(schema.variants)}",
            repr(tag),
            hint or _checks.did_you_mean(tag, list(schema.variants)),
        )
    if last not in table:  # the variant holds its tag: make the default explicit
        raw = _with(raw, [*outer, last], tag)
    return _build(ctx, schema.variants[tag], raw, path, (*choice, (key, tag)), None)


def _with(raw: Mapping, parts: list[str], value: Any) -> dict:
    """A copy of `raw` with `value` at the key path `parts` (tables copied)."""
    head, *rest = parts
    inner = _with(raw.get(head, {}), rest, value) if rest else value
    return {**raw, head: inner}


def _build_layout(ctx: Ctx, schema: Layout, raw, path: str, choice: tuple) -> Any:
    for name, value in raw.items():
        dotted = join(path, name)
        if name not in schema.sections and not _droppable(ctx, dotted):
            where = ctx.sources.of(dotted)
            raise hints.unread_section(ctx, schema, dotted, value, choice, where)
    built = {
        name: _build(ctx, section, raw.get(name, {}), join(path, name), choice, None)
        for name, section in schema.sections.items()
    }
    obj = schema.cls(
        **{f.name: built.get(f.name) for f in dataclasses.fields(schema.cls)}
    )
    _relate(ctx, schema.relations, obj, path)
    return obj


def _build_table(ctx: Ctx, cls: type, raw, path: str, choice: tuple, base) -> Any:
    base = cls() if base is None else base
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = _read_values(ctx, fields, raw, path, choice, base)
    current = {name: values.get(name, getattr(base, name)) for name in fields}
    _refuse_unread(ctx, cls, raw, path, choice, values, current)
    for name, field in fields.items():  # defaults too: e.g. serial's empty layers
        if not is_table(field.type) and is_read(field, current):
            dotted = join(path, name)
            _check_value(ctx.sources.of(dotted), dotted, field.metadata, current[name])
    obj = dataclasses.replace(base, **values)
    _relate(ctx, getattr(cls, "relations", ()), obj, path)
    return obj


def _read_values(ctx: Ctx, fields, raw, path: str, choice: tuple, base) -> dict:
    """The coerced values (and built sub-tables) of the keys `raw` sets."""
    values = {}
    for key, value in raw.items():
        dotted, field = join(path, key), fields.get(key)
        if field is None:
            continue  # refused (or dropped) by `_refuse_unread`
        if is_table(field.type):
            default = getattr(base, key)
            values[key] = _build(ctx, field.type, value, dotted, choice, default)
        else:
            values[key] = coerce(field.type, ctx.sources.of(dotted), dotted, value)
    return values


def _refuse_unread(ctx: Ctx, cls, raw, path: str, choice, values, current) -> None:
    """Raise for a key `cls` lacks or does not read given `current`; drop those
    `replace` carried over (deleting them from `values`)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        if key not in fields and not _droppable(ctx, join(path, key)):
            table = isinstance(value, Mapping)
            raise hints.unread_key(ctx, cls, path, key, table, choice, current)
    for name, field in fields.items():
        if name not in values or is_read(field, current):
            continue
        key = field.metadata["read_if"][0]
        switched = _switched(ctx, join(path, key), fields[key].default, current[key])
        if _droppable(ctx, join(path, name), switched):
            del values[name]
            continue
        own = (*choice, (join(path, key), current[key]))
        raise hints.unread_key(ctx, cls, path, name, False, own, current)


def _switched(ctx: Ctx, dotted: str, default: Any, value: Any) -> bool:
    """Whether an override changed the choice at `dotted` to `value`."""
    sources = ctx.sources
    return (
        dotted in sources.overridden and sources.previous.get(dotted, default) != value
    )


def _droppable(ctx: Ctx, dotted: str, switched: bool = False) -> bool:
    """An unread value is dropped, not refused, when it came along (see
    `Sources.carried`) and some other choice reads it (typos stay errors)."""
    carried = ctx.sources.carried(dotted, switched)
    return carried and hints.is_read_somewhere(ctx.root, dotted)


def _check_value(where: str, dotted: str, meta: Mapping, value: Any) -> None:
    if "choices" in meta:
        _checks.one_of(where, dotted, value, meta["choices"])
    items = [(dotted, value)] if "rule" in meta else []
    if "each" in meta:
        items += [(f"{dotted}[{i}]", v) for i, v in enumerate(value)]
    for name, item in items:
        rule = meta["rule"] if name == dotted else meta["each"]
        if not rule.ok(item):
            shown = repr(list(item) if isinstance(item, tuple) else item)
            raise _checks.value_error(where, f"`{name}` {rule.text}", shown, rule.hint)


def _relate(ctx: Ctx, relations, obj, path: str) -> None:
    for relation in relations:
        problem = relation(obj, path)
        if problem is not None:
            raise problem.error(ctx.sources.of(*problem.keys))


def _expect_table(value: Any, where: str, path: str) -> None:
    if not isinstance(value, Mapping):
        name = f"[{path}]" if path else "the config"
        raise _checks.type_error(where, f"{name} to be a table", got(value))


def check(schema: Any, obj: Any, where: str, path: str = "") -> Any:
    """Validate an object built in Python as if it were loaded; return it rebuilt.

    Raises:
      ValueError / TypeError: as `to_plain` and `build`, located at `where`.
    """
    return build(schema, to_plain(schema, obj, where, path), Sources(where, {}), path)
