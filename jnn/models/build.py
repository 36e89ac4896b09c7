"""Build a model `Layer` from a `ModelConfig`, with errors naming config paths."""

import inspect
from typing import Any

from jnn import _checks, activations, initializers, layers
from jnn._types import Layer
from jnn.models.mlp import mlp

# `type` names usable in `model.layers`; every activation name is a layer too.
_LAYER_TYPES = {
    "dense": layers.dense,
    "flatten": layers.flatten,
    "dropout": layers.dropout,
    "activation": layers.activation,
    **{
        name: (lambda n: lambda **kw: layers.activation(n, **kw))(name)
        for name in activations.NAMES
    },
}


def from_config(cfg, out_features: int) -> Layer:
    """Return the model described by `cfg` (a `jnn.config.ModelConfig`).

    `kind = "mlp"` uses `cfg.hidden`, `cfg.activation`, `cfg.w_init`,
    `cfg.b_init` and `cfg.dropout`, with `out_features` outputs. `kind =
    "serial"` builds `cfg.layers` in order: each entry is a table with a `type`
    (e.g. "dense", "relu", "dropout", "flatten") and that constructor's keyword
    arguments (initializers by name, e.g. `w_init = "glorot_uniform"`), plus an
    optional `name` for its parameter path (default `<type>_<index>`).

    Raises:
      ValueError: for an unknown `type` or argument (naming `model.layers[i]`),
        or a duplicate layer name.
      TypeError: for an argument of the wrong kind.
    """
    if cfg.kind == "mlp":
        return mlp(
            cfg.hidden,
            out_features,
            act=cfg.activation,
            w_init=cfg.w_init,
            b_init=cfg.b_init,
            drop_rate=cfg.dropout,
        )
    _checks.one_of("model", "model.kind", cfg.kind, ("mlp", "serial"))
    if not cfg.layers:
        raise _checks.value_error(
            "model", "a non-empty `model.layers` for kind 'serial'", "[]"
        )
    built = {}
    for i, entry in enumerate(cfg.layers):
        name, layer = _build_entry(f"model.layers[{i}]", i, dict(entry))
        if name in built:
            raise _checks.value_error(
                "model", f"unique layer names at model.layers[{i}]", repr(name)
            )
        built[name] = layer
    return layers.named(**built)


def _build_entry(where: str, index: int, entry: dict[str, Any]) -> tuple[str, Layer]:
    kind = entry.pop("type", None)
    _checks.one_of(where, f"{where}.type", kind, tuple(_LAYER_TYPES))
    name = entry.pop("name", f"{kind}_{index}")
    constructor = _LAYER_TYPES[kind]
    kwargs = {k: _resolve(where, k, v) for k, v in entry.items()}
    _check_arguments(where, constructor, kwargs)
    try:
        return name, constructor(**kwargs)
    except _checks.JnnError as error:
        raise _checks.prefix_path(error, where) from None


def _resolve(where: str, name: str, value: Any) -> Any:
    """Turn initializer names (`*_init = "he_normal"`) into initializers."""
    if name.endswith("_init") and isinstance(value, str):
        _checks.one_of(where, f"{where}.{name}", value, initializers.NAMES)
        return initializers.get(value)
    return value


def _check_arguments(where: str, constructor, kwargs: dict[str, Any]) -> None:
    params = inspect.signature(constructor).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # activation(**kwargs): the function itself checks its arguments
    for key in kwargs:
        if key not in params:
            raise _checks.value_error(
                where,
                f"an argument of {constructor.__name__} ({', '.join(params)})",
                f"{where}.{key}",
                _checks.did_you_mean(key, list(params)),
            )
    missing = [n for n, p in params.items() if p.default is p.empty and n not in kwargs]
    if missing:
        raise _checks.value_error(
            where,
            f"the required arguments {missing} of {constructor.__name__}",
            f"only {sorted(kwargs)}",
        )
