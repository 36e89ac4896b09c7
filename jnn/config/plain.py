"""Turn a built config back into plain data: what its chosen schema reads.

The inverse of `jnn.config.loader.build`, and the check of a config built in
Python: a section its layout does not read, or an unread setting away from
its default, is refused rather than silently dropped.
"""

import dataclasses
from typing import Any

from jnn import _checks
from jnn.config import _toml, hints
from jnn.config.hints import Ctx, Sources
from jnn.config.schema import Layout, Tagged, is_read, is_table, join


def to_plain(schema: Any, obj: Any, where: str = "to_dict", path: str = "") -> dict:
    """Return `obj` as plain data holding only what its chosen schema reads.

    Tuples become lists, so the result is TOML- and JSON-ready, and `build`
    turns it back into an equal object.

    Raises:
      ValueError: for a tag that names no variant, a section the chosen layout
        does not read that is not None, or a setting that is not read but
        differs from its default.
      TypeError: for a section of the wrong class.
    """
    return _plain(Ctx(Sources(where, {}), schema, {}), schema, obj, path, (), None)


def _plain(ctx: Ctx, schema, obj, path: str, choice: tuple, base) -> Any:
    where = ctx.sources.default
    if isinstance(schema, Tagged):
        key = join(path, schema.key)
        tag = obj
        for part in schema.key.split("."):
            tag = getattr(tag, part, None)
        _checks.one_of(where, key, tag, tuple(schema.variants))
        variant = schema.variants[tag]
        return _plain(ctx, variant, obj, path, (*choice, (key, tag)), None)
    cls = schema.cls if isinstance(schema, Layout) else schema
    if type(obj) is not cls:
        name = f"[{path}]" if path else "the config"
        context = hints.context(choice)
        expected = f"{name}{context} to be a {cls.__name__}"
        raise _checks.type_error(where, expected, type(obj).__name__)
    if isinstance(schema, Layout):
        return _plain_layout(ctx, schema, obj, path, choice)
    return _plain_table(ctx, schema, obj, path, choice, base)


def _plain_layout(ctx: Ctx, schema: Layout, obj, path: str, choice: tuple) -> dict:
    out = {}
    for field in dataclasses.fields(schema.cls):
        value, dotted = getattr(obj, field.name), join(path, field.name)
        if field.name in schema.sections:
            section = schema.sections[field.name]
            out[field.name] = _plain(ctx, section, value, dotted, choice, None)
        elif value is not None:
            raise _checks.value_error(
                ctx.sources.default,
                f"`{dotted}` = None{hints.context(choice)}",
                type(value).__name__,
                hints.readers_hint(ctx.root, dotted, dict(choice), True),
            )
    return out


def _plain_table(ctx: Ctx, cls: type, obj, path: str, choice: tuple, base) -> dict:
    base = cls() if base is None else base
    current = {f.name: getattr(obj, f.name) for f in dataclasses.fields(cls)}
    out = {}
    for field in dataclasses.fields(cls):
        value, dotted = current[field.name], join(path, field.name)
        default = getattr(base, field.name)
        if is_table(field.type):
            out[field.name] = _plain(ctx, field.type, value, dotted, choice, default)
        elif is_read(field, current):
            out[field.name] = _toml.plain(value)
        elif value != default:
            key = field.metadata["read_if"][0]
            own = (*choice, (join(path, key), current[key]))
            raise hints.unread_key(ctx, cls, path, field.name, False, own, current)
    return out
