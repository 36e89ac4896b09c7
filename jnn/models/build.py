"""Build a model `Layer` from its [model] config, with errors naming config paths.

Each kind's builder reads exactly the fields of its schema in
`jnn.models.config` (a test keeps `BUILDERS` and the schemas' kinds equal).
"""

import inspect
from typing import Any

from jnn import _checks, activations, initializers, layers
from jnn._types import Layer
from jnn.config import loader
from jnn.models import config as models_config
from jnn.models.cnn import lenet
from jnn.models.feedforward import mlp
from jnn.models.residual_nets import resnet
from jnn.models.sequence import sequence_classifier, sequence_lm
from jnn.models.transformers import transformer_lm, vit

# Names in jnn.layers that take other layers or cells, or are not layer
# constructors: not usable as a `type` in model.layers.
_NOT_TYPES = {
    *("serial", "named", "parallel", "residual", "output_spec"),
    *("Cell", "unroll", "rnn", "bidirectional"),
    *("simple_rnn_cell", "lstm_cell", "gru_cell"),
}


def _layer_types() -> dict:
    """`type` names usable in `model.layers`: every leaf layer constructor in
    `jnn.layers.__all__`, plus each activation name as a layer."""
    types = {n: getattr(layers, n) for n in layers.__all__ if n not in _NOT_TYPES}
    for name in activations.NAMES:
        types.setdefault(name, _activation_layer(name))
    return types


def _activation_layer(name: str):
    def constructor(**kwargs):
        return layers.activation(name, **kwargs)

    constructor.__name__ = name
    return constructor


def from_config(cfg, out_features: int) -> Layer:
    """Return the model described by `cfg`, a kind's config from `jnn.models.config`.

    `MlpConfig` builds `jnn.models.mlp` with `out_features` outputs;
    `CnnConfig` `jnn.models.lenet`; `ResnetConfig` `jnn.models.resnet`;
    `RnnConfig` stacks `cell` layers of widths `hidden` (optionally
    bidirectional) over rows or time; `RnnLmConfig` embeds tokens and predicts
    the next one at every step, as `TransformerLmConfig` does with
    `jnn.models.transformer_lm`; `VitConfig` builds `jnn.models.vit`. `SerialConfig` builds `layers` in order: each
    entry is a table with a `type` (e.g. "dense", "relu", "dropout",
    "flatten") and that constructor's keyword arguments (initializers by name,
    e.g. `w_init = "glorot_uniform"`), plus an optional `name` for its
    parameter path (default `<type>_<index>`).

    Raises:
      ValueError: for an invalid config (as when loading one), an unknown
        `type` or argument (naming `model.layers[i]`), or a duplicate layer
        name.
      TypeError: for an argument of the wrong kind, or a config of another
        kind's class.
    """
    loader.check(models_config.SCHEMA, cfg, "model", "model")
    return BUILDERS[cfg.kind](cfg, out_features)


def _serial(cfg, out_features: int) -> Layer:
    del out_features  # the last entry of `layers` decides it
    built = {}
    for i, entry in enumerate(cfg.layers):
        name, layer = _build_entry(f"model.layers[{i}]", i, dict(entry))
        if name in built:
            raise _checks.value_error(
                "model", f"unique layer names at model.layers[{i}]", repr(name)
            )
        built[name] = layer
    return layers.named(**built)


# `model.kind` -> its builder, reading that kind's config.
def transformer_lm_options(cfg) -> dict[str, Any]:
    """The keywords of `transformer_lm` and `transformer_lm_parts` that a
    `TransformerLmConfig` sets (the sampler rebuilds the same parts)."""
    return {
        "features": cfg.features,
        "blocks": cfg.blocks,
        "num_heads": cfg.num_heads,
        "mlp_features": cfg.mlp_features or None,
        "max_len": cfg.max_len,
        "positions": cfg.positions,
        "drop_rate": cfg.dropout,
    }


BUILDERS = {
    "mlp": lambda cfg, out: mlp(
        cfg.hidden,
        out,
        act=cfg.activation,
        w_init=cfg.w_init,
        b_init=cfg.b_init,
        drop_rate=cfg.dropout,
    ),
    "cnn": lambda cfg, out: lenet(
        out,
        channels=cfg.channels,
        hidden=cfg.hidden,
        kernel_size=cfg.kernel_size,
        act=cfg.activation,
        w_init=cfg.w_init,
        drop_rate=cfg.dropout,
        use_batch_norm=cfg.batch_norm,
    ),
    "resnet": lambda cfg, out: resnet(
        out,
        channels=cfg.channels,
        blocks_per_stage=cfg.blocks_per_stage,
        act=cfg.activation,
    ),
    "rnn": lambda cfg, out: sequence_classifier(
        out,
        cell=cfg.cell,
        hidden=cfg.hidden,
        use_bidirectional=cfg.bidirectional,
    ),
    "rnn_lm": lambda cfg, out: sequence_lm(
        out,
        cell=cfg.cell,
        hidden=cfg.hidden,
        embed_features=cfg.embed_features,
    ),
    "transformer_lm": lambda cfg, out: transformer_lm(
        out, **transformer_lm_options(cfg)
    ),
    "vit": lambda cfg, out: vit(
        out,
        patch_size=cfg.patch_size,
        features=cfg.features,
        blocks=cfg.blocks,
        num_heads=cfg.num_heads,
        mlp_features=cfg.mlp_features or None,
        positions=cfg.positions,
        pool=cfg.pool,
        drop_rate=cfg.dropout,
    ),
    "serial": _serial,
}


def _build_entry(where: str, index: int, entry: dict[str, Any]) -> tuple[str, Layer]:
    kind = entry.pop("type", None)
    types = _layer_types()
    _checks.one_of(where, f"{where}.type", kind, tuple(types))
    name = entry.pop("name", f"{kind}_{index}")
    constructor = types[kind]
    kwargs = {k: _resolve(where, k, v) for k, v in entry.items()}
    _check_arguments(where, constructor, kwargs)
    try:
        return name, constructor(**kwargs)
    except _checks.JnnError as error:
        raise _checks.prefix_path(error, where) from None


def _resolve(where: str, name: str, value: Any) -> Any:
    """Turn initializer names (`*_init = "he_normal"`) into initializers and
    TOML arrays into tuples (`kernel_size = [3, 3]`)."""
    if isinstance(value, list):
        return tuple(value)
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
