"""Run configuration: frozen dataclasses loaded from TOML, with dotted overrides.

The schema lives here; every field is documented in `configs/*.toml` with its
intent. Loading, validation and `--set` overrides are below the dataclasses.
"""

import math
import os
import pathlib
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

from jnn import _checks, _toml, activations, initializers
from jnn._checks import did_you_mean


@dataclass(frozen=True)
class DataConfig:
    name: str = (
        "digits"  # digits | mnist | fashion_mnist | xor | moons | spirals | linear
    )
    dir: str = ""  # directory holding IDX(.gz) files, for mnist / fashion_mnist
    val_fraction: float = 0.1  # share of the non-test data held out for validation
    test_fraction: float = 0.2  # share of all data held out for the final test
    normalize: str = "standardize"  # none | scale | standardize (stats from train)
    num_samples: int = 1000  # size of synthetic sets (ignored by real data sets)
    noise: float = 0.1  # noise level of synthetic sets
    seed: int = 0  # seed of the split and of synthetic data
    augment_shift: int = 0  # images: random shift of up to this many pixels; 0 = off
    augment_flip: bool = False  # images: random left-right flips (not for digits)
    path: str = ""  # text: a UTF-8 text file; "" = Python's pydoc_data topics
    seq_len: int = 32  # sine / text: time steps T the model reads per sample
    horizon: int = 1  # sine: future values predicted after each window


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "mlp"  # mlp | cnn | resnet | rnn | rnn_lm | serial (`layers`)
    hidden: tuple[int, ...] = (128,)  # mlp: widths of the hidden layers
    activation: str = "relu"  # mlp: a name from jnn.activations.NAMES
    w_init: str = "he_normal"  # mlp: a name from jnn.initializers.NAMES
    b_init: str = "zeros"  # mlp: bias initializer name
    dropout: float = 0.0  # mlp: drop_rate after each hidden activation
    layers: tuple[dict[str, Any], ...] = ()  # serial: [{type = "dense", ...}, ...]
    channels: tuple[int, ...] = (32, 64)  # cnn / resnet: channels of each conv stage
    kernel_size: tuple[int, ...] = (3, 3)  # cnn: conv window; its length = spatial rank
    batch_norm: bool = False  # cnn: batch norm after each convolution
    blocks_per_stage: int = 2  # resnet: residual blocks per stage
    cell: str = "lstm"  # rnn: simple | lstm | gru; `hidden` gives stacked widths
    bidirectional: bool = False  # rnn: run each layer both ways and concatenate
    embed_features: int = 32  # rnn_lm: width of the token embedding


@dataclass(frozen=True)
class LossConfig:
    name: str = "sparse_softmax_cross_entropy"  # a name from jnn.losses.NAMES
    l1: float = 0.0  # L1 penalty on weights (not biases)
    l2: float = 0.0  # L2 penalty on weights (not biases)


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # sgd | adam | adamw | rmsprop | adagrad
    lr: float = 1e-3  # peak learning rate
    momentum: float = 0.0  # sgd / rmsprop momentum; 0 disables
    nesterov: bool = False  # sgd: Nesterov momentum (needs momentum > 0)
    b1: float = 0.9  # adam / adamw first-moment decay
    b2: float = 0.999  # adam / adamw second-moment decay
    eps: float = 1e-8  # adam / adamw / rmsprop / adagrad denominator epsilon
    decay: float = 0.9  # rmsprop squared-gradient decay
    weight_decay: float = 1e-4  # adamw decoupled weight decay
    clip_norm: float = 0.0  # clip gradients to this global norm; 0 disables
    schedule: str = "constant"  # constant | step | exponential | cosine
    warmup_steps: int = 0  # linear warmup from 0 to lr over this many steps
    decay_steps: int = 1000  # step / exponential: steps per decay by decay_rate
    decay_rate: float = 0.5  # step / exponential: factor per decay_steps
    final_lr_fraction: float = 0.0  # cosine: final lr as a fraction of lr


@dataclass(frozen=True)
class TrainConfig:
    task: str = "supervised"  # supervised | gan (uses the [gan] section)
    seed: int = 0  # seed of init, shuffling and dropout
    epochs: int = 50  # passes over the training split
    batch_size: int = 64  # 1 = stochastic, 0 = full batch, else mini-batch
    ragged: str = "pad"  # last partial batch: pad (masked) | drop
    eval_batch_size: int = 1024  # batch size of the jitted evaluation
    checkpoint_every: int = 0  # epochs between checkpoints; 0 = final only
    checkpoint_every_steps: int = 0  # steps between checkpoints (pre-emption); 0 = off
    keep_checkpoints: int = 0  # newest checkpoints kept on disk; 0 = keep all
    on_nonfinite: str = "stop"  # NaN/Inf loss or grad: stop (error) | skip the update
    tensorboard: bool = False  # also write scalars to RUN/tensorboard/ event files


@dataclass(frozen=True)
class EarlyStoppingConfig:
    enabled: bool = False  # stop when `monitor` stops improving
    monitor: str = "val_loss"  # val_loss | val_accuracy | train_loss | ...
    mode: str = "auto"  # min | max | auto (max for accuracy, else min)
    patience: int = 10  # epochs without improvement before stopping
    min_delta: float = 0.0  # smallest change that counts as improvement
    restore_best: bool = True  # end with the best epoch's params


@dataclass(frozen=True)
class GanConfig:
    """Generator / discriminator pair, used when `train.task = "gan"`."""

    architecture: str = "mlp"  # mlp (dense stacks) | dcgan (conv_transpose / conv)
    latent_dim: int = 16  # size of the generator's noise vector z
    g_hidden: tuple[int, ...] = (128, 128)  # mlp: generator hidden widths
    d_hidden: tuple[int, ...] = (128, 128)  # mlp: discriminator hidden widths
    g_channels: tuple[int, ...] = (64, 32)  # dcgan: channels per 2x upsampling
    d_channels: tuple[int, ...] = (32, 64)  # dcgan: channels per stride-2 conv
    g_activation: str = "relu"  # generator hidden activation
    d_activation: str = "leaky_relu"  # discriminator hidden activation
    loss: str = "non_saturating"  # non_saturating | minimax | wasserstein
    d_steps: int = 1  # discriminator updates per generator update
    g_lr: float = 2e-4  # generator adam learning rate
    d_lr: float = 2e-4  # discriminator adam learning rate
    g_b1: float = 0.5  # generator adam b1 (0.5 is the DCGAN choice)
    g_b2: float = 0.999  # generator adam b2
    d_b1: float = 0.5  # discriminator adam b1
    d_b2: float = 0.999  # discriminator adam b2
    lr_schedule: str = "constant"  # constant | cosine (both lrs anneal to 0 at the end)
    label_smoothing: float = 0.0  # one-sided: real targets become 1 - this
    gp_weight: float = 10.0  # wasserstein: gradient-penalty weight
    steps: int = 2000  # generator updates in the run
    eval_every: int = 250  # generator updates between quality evaluations
    num_eval_samples: int = 1000  # generated samples per quality evaluation
    checkpoint_every: int = 0  # generator updates between checkpoints; 0 = final
    ring_radius: float = 2.0  # ring data: radius of the 8 mode centres


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    gan: GanConfig = field(default_factory=GanConfig)


# ---------------------------------------------------------------------------
# Loading, validation and overrides. Everything below works on plain dicts
# (`{section: {key: value}}`) and builds the frozen dataclasses at the end.

_SECTIONS: dict[str, type] = {f.name: f.type for f in fields(Config)}
_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls)) for name, cls in _SECTIONS.items()
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "data.name": (
        *("digits", "mnist", "fashion_mnist"),  # real data sets
        *("xor", "moons", "spirals", "linear"),  # synthetic ones
        "ring",  # 8 Gaussians on a circle: train.task = "gan" only
        *("sine", "text"),  # sequences: forecasting, character modelling
    ),
    "data.normalize": ("none", "scale", "standardize"),
    "model.kind": ("mlp", "cnn", "resnet", "rnn", "rnn_lm", "serial"),
    "model.cell": ("simple", "lstm", "gru"),
    "model.activation": activations.NAMES,
    "model.w_init": initializers.NAMES,
    "model.b_init": initializers.NAMES,
    "optim.name": ("sgd", "adam", "adamw", "rmsprop", "adagrad"),
    "optim.schedule": ("constant", "step", "exponential", "cosine"),
    "train.ragged": ("pad", "drop"),
    "train.on_nonfinite": ("stop", "skip"),
    "early_stopping.mode": ("auto", "min", "max"),
    "train.task": ("supervised", "gan"),
    "gan.architecture": ("mlp", "dcgan"),
    "gan.loss": ("non_saturating", "minimax", "wasserstein"),
    "gan.lr_schedule": ("constant", "cosine"),
    "gan.g_activation": activations.NAMES,
    "gan.d_activation": activations.NAMES,
}
_Rule = tuple[str, Callable[[Any], bool]]
_POSITIVE: _Rule = ("> 0", lambda v: v > 0)
_NON_NEGATIVE: _Rule = (">= 0", lambda v: v >= 0)
_FRACTION: _Rule = ("in [0, 1)", lambda v: 0 <= v < 1)
_SEED: _Rule = ("in [0, 2**32)", lambda v: 0 <= v < 2**32)  # portable PRNG seed
_RULES: dict[str, _Rule] = {
    "data.val_fraction": _FRACTION,
    "data.test_fraction": _FRACTION,
    "data.num_samples": _POSITIVE,
    "data.noise": _NON_NEGATIVE,
    "data.seed": _SEED,
    "data.augment_shift": _NON_NEGATIVE,
    "data.seq_len": _POSITIVE,
    "data.horizon": _POSITIVE,
    "model.hidden": _POSITIVE,  # checked per element
    "model.dropout": _FRACTION,
    "model.channels": _POSITIVE,  # checked per element
    "model.kernel_size": _POSITIVE,  # checked per element
    "model.blocks_per_stage": _POSITIVE,
    "model.embed_features": _POSITIVE,
    "loss.l1": _NON_NEGATIVE,
    "loss.l2": _NON_NEGATIVE,
    "optim.lr": _POSITIVE,
    "optim.momentum": _FRACTION,
    "optim.b1": _FRACTION,
    "optim.b2": _FRACTION,
    "optim.eps": _POSITIVE,
    "optim.decay": _FRACTION,
    "optim.weight_decay": _NON_NEGATIVE,
    "optim.clip_norm": _NON_NEGATIVE,
    "optim.warmup_steps": _NON_NEGATIVE,
    "optim.decay_steps": _POSITIVE,
    "optim.decay_rate": ("in (0, 1]", lambda v: 0 < v <= 1),
    "optim.final_lr_fraction": ("in [0, 1]", lambda v: 0 <= v <= 1),
    "train.seed": _SEED,
    "train.epochs": _POSITIVE,
    "train.batch_size": _NON_NEGATIVE,
    "train.eval_batch_size": _POSITIVE,
    "train.checkpoint_every": _NON_NEGATIVE,
    "train.checkpoint_every_steps": _NON_NEGATIVE,
    "train.keep_checkpoints": _NON_NEGATIVE,
    "early_stopping.patience": _NON_NEGATIVE,
    "early_stopping.min_delta": _NON_NEGATIVE,
    **{f"gan.{k}": _POSITIVE for k in ("latent_dim", "g_hidden", "d_hidden")},
    **{f"gan.{k}": _POSITIVE for k in ("g_channels", "d_channels", "d_steps")},
    **{f"gan.{k}": _POSITIVE for k in ("g_lr", "d_lr", "steps", "eval_every")},
    **{f"gan.{k}": _FRACTION for k in ("g_b1", "g_b2", "d_b1", "d_b2")},
    "gan.num_eval_samples": _POSITIVE,
    "gan.label_smoothing": ("in [0, 0.5)", lambda v: 0 <= v < 0.5),
    "gan.gp_weight": _NON_NEGATIVE,
    "gan.checkpoint_every": _NON_NEGATIVE,
    "gan.ring_radius": _POSITIVE,
}


class _Sources(NamedTuple):
    """Where each value came from: `--set` for overridden keys, else the file."""

    default: str
    overridden: dict[str, str]

    def of(self, *dotted: str) -> str:
        for name in dotted:
            if name in self.overridden:
                return self.overridden[name]
        return self.default


def load(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Read a TOML config, apply `section.key=value` overrides, and validate it.

    Missing sections and keys take the dataclass defaults. Override values are
    parsed as TOML values (`optim.lr=3e-4`, `model.hidden=[64, 32]`); a bare
    word that is not valid TOML is taken as a string (`train.ragged=drop`).

    Args:
      path: The TOML file, e.g. "configs/mlp_digits.toml".
      overrides: `--set`-style strings, applied in order (later ones win).

    Raises:
      ValueError: if the file is missing or not valid TOML (the message names
        the line), names an unknown section or key, or holds a bad value.
      TypeError: if a value has the wrong type (e.g. a string for `optim.lr`).
    """
    where = str(path)
    raw = _read_toml(where)
    _check_structure(raw, where)
    overridden = _apply_overrides(raw, overrides, "--set")
    return _build(raw, _Sources(where, overridden))


def from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Validate a `{section: {key: value}}` mapping and build a `Config`.

    Args:
      raw: Plain data as `to_dict` returns it; missing entries take defaults.
      source: Names the origin in error messages.

    Raises:
      ValueError: on unknown sections or keys, or bad values.
      TypeError: on values of the wrong type.

    Example:
      >>> from_dict({"optim": {"lr": 1}}).optim.lr  # int -> float is allowed
      1.0
    """
    _check_structure(_as_table(raw, source), source)
    return _build(raw, _Sources(source, {}))


def replace(cfg: Config, overrides: Sequence[str], source: str = "--set") -> Config:
    """Return `cfg` with `section.key=value` overrides applied and validated.

    Raises:
      ValueError: on a malformed override, an unknown key, or a bad value.
      TypeError: on a value of the wrong type.

    Example:
      >>> replace(Config(), ["optim.lr=3e-4", "model.hidden=[64, 32]"]).model.hidden
      (64, 32)
    """
    raw = to_dict(cfg)
    overridden = _apply_overrides(raw, overrides, source)
    return _build(raw, _Sources(source, overridden))


def to_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """Return `cfg` as plain, TOML/JSON-serialisable data (tuples become lists).

    Example:
      >>> to_dict(Config())["model"]["hidden"]
      [128]
    """
    return {name: _toml.plain(asdict(getattr(cfg, name))) for name in _SECTIONS}


def to_toml(cfg: Config) -> str:
    """Render `cfg` as TOML that `load` reads back into an equal `Config`.

    Floats are written with `repr`, which round-trips exactly; `model.layers`
    becomes an array of inline tables.

    Raises:
      TypeError: if a value (e.g. inside `model.layers`) has no TOML form.

    Example:
      >>> text = to_toml(replace(Config(), ["optim.lr=3e-4"]))
      >>> "lr = 0.0003" in text.splitlines()
      True
    """
    lines = ["# Resolved jnn config, written by jnn.config.to_toml."]
    for name, section in to_dict(cfg).items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{key} = {_toml.value(v)}" for key, v in section.items())
    return "\n".join(lines) + "\n"


def save(cfg: Config, path: str | os.PathLike) -> pathlib.Path:
    """Write `to_toml(cfg)` to `path` (creating its folder) and return the path.

    Raises:
      TypeError: as `to_toml`.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(cfg), encoding="utf-8")
    return path


# -- reading -----------------------------------------------------------------


def _read_toml(where: str) -> dict[str, Any]:
    try:
        with open(where, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        folder = pathlib.Path(where).parent
        known = [str(p) for p in sorted(folder.glob("*.toml"))]
        raise _checks.value_error(
            where, "an existing TOML file", "no such file", did_you_mean(where, known)
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise _checks.value_error(where, "valid TOML", f"'{error}'") from None


def _check_structure(raw: Mapping[str, Any], where: str) -> None:
    for name, section in raw.items():
        if name not in _SECTIONS:
            got = f"[{name}]" if isinstance(section, Mapping) else f"key `{name}`"
            raise _checks.value_error(
                where,
                f"a section in [{', '.join(sorted(_SECTIONS))}]",
                got,
                _belongs_hint(name) or did_you_mean(name, list(_SECTIONS)),
            )
        _as_table(section, where, f"[{name}]")
        for key in section:
            _check_key(name, key, where)


def _check_key(section: str, key: str, where: str) -> None:
    if key in _KEYS[section]:
        return
    dotted = [f"{section}.{k}" for k in _KEYS[section]]
    raise _checks.value_error(
        where,
        f"a key of [{section}] in [{', '.join(_KEYS[section])}]",
        f"`{section}.{key}`",
        _belongs_hint(key) or did_you_mean(f"{section}.{key}", dotted),
    )


def _belongs_hint(key: str) -> str | None:
    homes = [name for name, keys in _KEYS.items() if key in keys]
    if not homes:
        return None
    sections = " or ".join(f"[{h}]" for h in homes)
    uses = " or ".join(f"{h}.{key}" for h in homes)
    return f"`{key}` belongs in {sections}: use {uses}"


def _as_table(value: Any, where: str, name: str = "the config") -> Mapping:
    if not isinstance(value, Mapping):
        raise _checks.type_error(where, f"{name} to be a table", _got(value))
    return value


# -- overrides ---------------------------------------------------------------


def _apply_overrides(raw: dict, overrides: Sequence[str], source: str) -> dict:
    """Set each override in `raw` (a fresh dict); return {dotted key: source}."""
    if isinstance(overrides, str):
        raise _checks.type_error(
            source, "a sequence of overrides", _got(overrides), f"use [{overrides!r}]"
        )
    overridden = {}
    for text in overrides:
        section, key, value = _parse_override(text, source)
        raw.setdefault(section, {})[key] = value
        overridden[f"{section}.{key}"] = source
    return overridden


def _parse_override(text: str, source: str) -> tuple[str, str, Any]:
    if not isinstance(text, str) or "=" not in text:
        raise _checks.value_error(
            source, "an override `section.key=value`", _got(text), "e.g. optim.lr=3e-4"
        )
    dotted, value = (part.strip() for part in text.split("=", 1))
    section, _, key = dotted.partition(".")
    if not section or not key:
        raise _checks.value_error(
            source, "a dotted key `section.key` before '='", repr(dotted)
        )
    _check_structure({section: {key: None}}, source)
    return section, key, _parse_value(value, source)


def _parse_value(text: str, source: str) -> Any:
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text  # a bare word such as `drop` or `data/mnist`
    if set(parsed) != {"v"}:
        raise _checks.value_error(source, "a single TOML value", repr(text))
    return parsed["v"]


# -- validation --------------------------------------------------------------


def _build(raw: Mapping[str, Any], sources: _Sources) -> Config:
    sections = {
        name: _build_section(name, raw.get(name, {}), sources) for name in _SECTIONS
    }
    cfg = Config(**sections)
    _check_relations(cfg, sources)
    return cfg


def _build_section(name: str, section: Mapping[str, Any], sources: _Sources):
    types = {f.name: f.type for f in fields(_SECTIONS[name])}
    values = {}
    for key, value in section.items():
        dotted = f"{name}.{key}"
        where = sources.of(dotted)
        value = _COERCE[types[key]](where, dotted, value)
        _check_value(where, dotted, value)
        values[key] = value
    return _SECTIONS[name](**values)


def _check_value(where: str, dotted: str, value: Any) -> None:
    choices = _loss_names() if dotted == "loss.name" else _CHOICES.get(dotted)
    if choices is not None:
        _checks.one_of(where, dotted, value, choices)
    if dotted not in _RULES:
        return
    text, ok = _RULES[dotted]
    items = enumerate(value) if isinstance(value, tuple) else [(None, value)]
    for i, item in items:
        if not ok(item):
            name = dotted if i is None else f"{dotted}[{i}]"
            raise _checks.value_error(where, f"`{name}` {text}", repr(item))


def _loss_names() -> tuple[str, ...]:
    from jnn import losses  # lazy: jnn.losses imports far more than configs need

    return losses.NAMES


def _check_relations(cfg: Config, sources: _Sources) -> None:
    for check in _RELATIONS:
        problem = check(cfg)
        if problem is not None:
            keys, expected, got, hint = problem
            raise _checks.value_error(sources.of(*keys), expected, got, hint)


def _fractions_sum(cfg: Config):
    val, test = cfg.data.val_fraction, cfg.data.test_fraction
    if val + test < 1:
        return None
    keys = ("data.val_fraction", "data.test_fraction")
    expected = "`data.val_fraction` + `data.test_fraction` < 1"
    return keys, expected, f"{val} + {test}", "the train split would be empty"


def _nesterov_momentum(cfg: Config):
    if not cfg.optim.nesterov or cfg.optim.momentum > 0:
        return None
    keys = ("optim.nesterov", "optim.momentum")
    expected = "`optim.momentum` > 0 when `optim.nesterov` = true"
    hint = "set optim.momentum=0.9, or optim.nesterov=false"
    return keys, expected, repr(cfg.optim.momentum), hint


def _model_layers(cfg: Config):
    kind, count = cfg.model.kind, len(cfg.model.layers)
    keys = ("model.kind", "model.layers")
    if kind == "serial" and count == 0:
        hint = 'add layers = [{type = "dense", features = 1}] under [model]'
        return keys, "a non-empty `model.layers` for kind 'serial'", "[]", hint
    if kind != "serial" and count:
        hint = "set model.kind = 'serial' to use them, or remove model.layers"
        return keys, f"no `model.layers` for kind {kind!r}", f"{count} layer(s)", hint
    return None


def _monitor(cfg: Config):
    monitor = cfg.early_stopping.monitor
    keys = ("early_stopping.monitor", "data.val_fraction")
    if not monitor.startswith(("train_", "val_")):
        hint = "e.g. val_loss, val_accuracy or train_loss"
        return keys, "`early_stopping.monitor` as train_* or val_*", repr(monitor), hint
    # xor's 4 points are train, val and test at once, whatever the fractions.
    needs_val = cfg.early_stopping.enabled and monitor.startswith("val_")
    needs_val = needs_val and cfg.data.name != "xor"
    if needs_val and cfg.data.val_fraction == 0:
        expected = f"`data.val_fraction` > 0 to monitor {monitor!r}"
        return keys, expected, "0.0", "hold out data or monitor a train_* metric"
    return None


def _gan_task(cfg: Config):
    keys = ("train.task", "data.name")
    gan_data = ("ring", "digits", "mnist", "fashion_mnist")
    if cfg.train.task != "gan" and cfg.data.name == "ring":
        hint = "set train.task = 'gan'; the ring has no labels to classify"
        return keys, "`train.task` = 'gan' for data 'ring'", repr(cfg.train.task), hint
    if cfg.train.task == "gan" and cfg.data.name not in gan_data:
        expected = f"`data.name` in {list(gan_data)} for train.task 'gan'"
        return keys, expected, repr(cfg.data.name), None
    if cfg.train.task == "gan" and cfg.train.batch_size == 0:
        keys = ("train.batch_size", "train.task")
        hint = "GAN steps draw fixed-size batches, e.g. train.batch_size = 64"
        return keys, "`train.batch_size` > 0 for train.task 'gan'", "0", hint
    return None


def _language_model(cfg: Config):
    lm, text = cfg.model.kind == "rnn_lm", cfg.data.name == "text"
    keys = ("model.kind", "data.name")
    if lm != text:
        expected = "`model.kind` = 'rnn_lm' with `data.name` = 'text'"
        got = f"kind {cfg.model.kind!r} with data {cfg.data.name!r}"
        hint = "the token model 'rnn_lm' reads data 'text', and only it does"
        return keys, expected, got, hint
    if lm and cfg.model.bidirectional:
        keys = ("model.bidirectional", "model.kind")
        hint = "a next-character model must not read the future: set false"
        return keys, "`model.bidirectional` = false for 'rnn_lm'", "true", hint
    return None


_RELATIONS = (
    *(_fractions_sum, _nesterov_momentum, _model_layers, _monitor),
    _gan_task,
    _language_model,
)


# -- types -------------------------------------------------------------------


def _got(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _as_str(where: str, dotted: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _checks.type_error(where, f"`{dotted}` to be a str", _got(value))
    return value


def _as_bool(where: str, dotted: str, value: Any) -> bool:
    if not isinstance(value, bool):
        hint = "use true or false" if isinstance(value, str | int) else None
        raise _checks.type_error(where, f"`{dotted}` to be a bool", _got(value), hint)
    return value


def _as_int(where: str, dotted: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _checks.type_error(where, f"`{dotted}` to be an int", _got(value))
    return value


def _as_float(where: str, dotted: str, value: Any) -> float:
    # int -> float is the one allowed coercion: `lr = 1` clearly means 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _checks.type_error(where, f"`{dotted}` to be a float", _got(value))
    if not math.isfinite(value):
        raise _checks.value_error(where, f"`{dotted}` to be finite", repr(value))
    return float(value)


def _as_list(where: str, dotted: str, value: Any, what: str) -> list:
    if not isinstance(value, list | tuple):
        raise _checks.type_error(
            where, f"`{dotted}` to be an array of {what}", _got(value)
        )
    return list(value)


def _as_int_tuple(where: str, dotted: str, value: Any) -> tuple[int, ...]:
    items = _as_list(where, dotted, value, "ints")
    return tuple(_as_int(where, f"{dotted}[{i}]", v) for i, v in enumerate(items))


def _as_layers(where: str, dotted: str, value: Any) -> tuple[dict[str, Any], ...]:
    items = _as_list(where, dotted, value, 'tables like {type = "dense", ...}')
    return tuple(_as_layer(where, f"{dotted}[{i}]", v) for i, v in enumerate(items))


def _as_layer(where: str, dotted: str, value: Any) -> dict[str, Any]:
    _as_table(value, where, f"`{dotted}`")
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
