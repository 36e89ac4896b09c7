"""Tasks choose the sections: `train.task` picks a layout of owned schemas.

- "supervised" reads [data] (`jnn.data.config`), [model]
  (`jnn.models.config`), [loss], [train] and [early_stopping]
  (`jnn.train.config`) and [optim] (`jnn.train.optim`).
- "gan" reads [data] (GAN sources), [gan], [train] (`jnn.gan.config`) and
  [optim.generator] / [optim.discriminator] (each an `OptimConfig`).
- Both read [mesh] (`jnn.runs.mesh`): the devices the engine spreads a run over.

The relations across sections that belong to no single owner live here.
Imported on first use by `jnn.config`, as the owners import its engine.
"""

from jnn.config import Config
from jnn.config.loader import Layout, Problem, Tagged
from jnn.data import config as data_config
from jnn.gan import config as gan_config
from jnn.models import config as models_config
from jnn.runs.mesh import MeshConfig
from jnn.train import config as train_config
from jnn.train.optim import OptimConfig


def language_model_data(cfg, path: str = "") -> Problem | None:
    """The token models (rnn_lm, transformer_lm) read data 'text', and only they do."""
    del path  # a relation of the whole config
    kinds = models_config.TOKEN_KINDS
    if (cfg.model.kind in kinds) == (cfg.data.name == "text"):
        return None
    return Problem(
        ("model.kind", "data.name"),
        f"`model.kind` one of {list(kinds)} with `data.name` = 'text'",
        f"kind {cfg.model.kind!r} with data {cfg.data.name!r}",
        f"the token models {', '.join(kinds)} read data 'text', and only they do",
    )


SUPERVISED = Layout(
    Config,
    {
        "data": data_config.SCHEMA,
        "model": models_config.SCHEMA,
        "loss": train_config.LossConfig,
        "optim": OptimConfig,
        "train": train_config.TrainConfig,
        "early_stopping": train_config.EarlyStoppingConfig,
        "mesh": MeshConfig,
    },
    relations=(train_config.monitor_needs_val, language_model_data),
)
GAN = Layout(
    Config,
    {
        "data": gan_config.DATA,
        "optim": gan_config.GanOptimConfig,
        "train": gan_config.GanTrainConfig,
        "gan": gan_config.GanConfig,
        "mesh": MeshConfig,
    },
    relations=gan_config.RELATIONS,
    moved=gan_config.MOVED,
)
SCHEMA = Tagged(
    "train.task", {"supervised": SUPERVISED, "gan": GAN}, "supervised", "tasks"
)
TASKS = tuple(SCHEMA.variants)
