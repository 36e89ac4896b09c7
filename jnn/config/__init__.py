"""Run configuration: frozen dataclasses loaded from TOML, with dotted overrides.

Each section's schema lives with the module that owns it (`jnn.train.optim`,
`jnn.train.config`, `jnn.data.config`, `jnn.models.config`,
`jnn.gan.config`); `train.task` picks which sections a config has (see
`jnn.config.layouts`), and the generic engine (`jnn.config.loader`) reads,
overrides, validates and writes them. Every key set in a file or by `--set`
is read by the chosen task, data source and model kind, or refused.

A config built in Python:

  >>> from jnn.data.config import DigitsConfig
  >>> from jnn.models.config import MlpConfig
  >>> from jnn.train.config import TrainConfig
  >>> cfg = Config(data=DigitsConfig(), model=MlpConfig(hidden=(64,)),
  ...              train=TrainConfig(epochs=5))
  >>> cfg.gan is None and cfg.optim.name
  'adam'
  >>> defaults("gan").model is None  # a GAN reads no [model]
  True
"""

import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jnn.config import _toml, loader

if TYPE_CHECKING:
    from jnn.data.config import DataConfig
    from jnn.gan.config import GanConfig, GanOptimConfig, GanTrainConfig
    from jnn.models.config import ModelConfig
    from jnn.runs.mesh import MeshConfig
    from jnn.train.config import EarlyStoppingConfig, LossConfig, TrainConfig
    from jnn.train.optim import OptimConfig

__all__ = [
    "Config",
    "defaults",
    "from_dict",
    "load",
    "replace",
    "save",
    "to_dict",
    "to_toml",
]


def _schema():
    """The whole schema; imported on first use, as its owners import the loader."""
    from jnn.config import layouts

    return layouts.SCHEMA


def _supervised(section: str):
    """The default factory of a section: that of a supervised run."""

    def make():
        schema = _schema().variants["supervised"].sections[section]
        return loader.build(schema, {}, loader.Sources("<defaults>", {}))

    return make


@dataclass(frozen=True)
class Config:
    """A run's configuration: one field per section; None where the task
    (`train.task`) reads no such section. Defaults: a supervised run."""

    data: "DataConfig | None" = field(default_factory=_supervised("data"))
    model: "ModelConfig | None" = field(default_factory=_supervised("model"))
    loss: "LossConfig | None" = field(default_factory=_supervised("loss"))
    optim: "OptimConfig | GanOptimConfig | None" = field(
        default_factory=_supervised("optim")
    )
    train: "TrainConfig | GanTrainConfig" = field(default_factory=_supervised("train"))
    early_stopping: "EarlyStoppingConfig | None" = field(
        default_factory=_supervised("early_stopping")
    )
    gan: "GanConfig | None" = None
    mesh: "MeshConfig" = field(default_factory=_supervised("mesh"))


def defaults(task: str = "supervised") -> Config:
    """The default config of `task` ("supervised" or "gan").

    Raises:
      ValueError: for an unknown task.
    """
    return from_dict({"train": {"task": task}}, source="defaults")


def load(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Read a TOML config, apply `section.key=value` overrides, and validate it.

    Missing sections and keys take the defaults. Override values are parsed
    as TOML values (`optim.lr=3e-4`, `model.hidden=[64, 32]`); a bare word
    that is not valid TOML is taken as a string (`train.ragged=drop`).

    Args:
      path: The TOML file, e.g. "configs/mlp_digits.toml".
      overrides: `--set`-style strings, applied in order (later ones win).

    Raises:
      ValueError: if the file is missing or not valid TOML (the message names
        the line), sets a key the chosen task, data source or model kind does
        not read (naming it and where it is read), or holds a bad value. A
        choice an override switches (e.g. `model.kind=cnn`) drops the file's
        settings that only the old choice read.
      TypeError: if a value has the wrong type (e.g. a string for `optim.lr`).
    """
    where = str(path)
    raw = loader.read_toml(where)
    overridden, previous = loader.apply_overrides(raw, overrides, "--set")
    sources = loader.Sources(where, overridden, previous=previous)
    return loader.build(_schema(), raw, sources)


def from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Validate a `{section: {key: value}}` mapping and build a `Config`.

    Args:
      raw: Plain data as `to_dict` returns it; missing entries take defaults.
      source: Names the origin in error messages.

    Raises:
      ValueError: on keys that are not read, or bad values.
      TypeError: on values of the wrong type.

    Example:
      >>> from_dict({"optim": {"lr": 1}}).optim.lr  # int -> float is allowed
      1.0
    """
    return loader.build(_schema(), raw, loader.Sources(source, {}))


def replace(cfg: Config, overrides: Sequence[str], source: str = "--set") -> Config:
    """Return `cfg` with `section.key=value` overrides applied and validated.

    A setting of `cfg` that an override makes unread (e.g. `model.hidden`
    after `model.kind=serial`) is dropped; one set by an override is refused.

    Raises:
      ValueError: on a malformed override, a key that is not read, or a bad
        value.
      TypeError: on a value of the wrong type.

    Example:
      >>> replace(Config(), ["optim.lr=3e-4", "model.hidden=[64, 32]"]).model.hidden
      (64, 32)
    """
    raw = to_dict(cfg)
    overridden, _ = loader.apply_overrides(raw, overrides, source)
    return loader.build(_schema(), raw, loader.Sources(source, overridden, soft=True))


def to_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """Return `cfg` as plain, TOML/JSON-serialisable data (tuples become lists).

    Only the sections of its task and the settings its choices read are
    written; `from_dict` turns the result back into an equal `Config`.

    Raises:
      ValueError / TypeError: if `cfg` (built in Python) has a section its
        task does not read, a section of the wrong class, or an unread
        setting away from its default.

    Example:
      >>> raw = to_dict(Config())
      >>> list(raw), raw["model"]["hidden"]
      (['data', 'model', 'loss', 'optim', 'train', 'early_stopping', 'mesh'], [128])
    """
    return loader.to_plain(_schema(), cfg, "to_dict")


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
    return _toml.document(
        to_dict(cfg), "# Resolved jnn config, written by jnn.config.to_toml."
    )


def save(cfg: Config, path: str | os.PathLike) -> pathlib.Path:
    """Write `to_toml(cfg)` to `path` (creating its folder) and return the path.

    Raises:
      TypeError: as `to_toml`.
    """
    path = pathlib.Path(path)
    text = to_toml(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
