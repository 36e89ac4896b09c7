"""The [train], [loss] and [early_stopping] schemas of supervised runs.

Each choice list is imported from the module that owns it; `configs/*.toml`
documents every field with its intent.
"""

from dataclasses import dataclass

from jnn import losses
from jnn.config.loader import NON_NEGATIVE, POSITIVE, SEED, Problem, Rule, setting
from jnn.train import numerics
from jnn.train.batches import RAGGED
from jnn.train.early_stopping import MODES
from jnn.train.precision import PRECISIONS

# The choices of `jnn.train.early_stopping.resolve_mode`.


@dataclass(frozen=True)
class TrainConfig:
    """[train] of a supervised run (`task = "supervised"`)."""

    task: str = "supervised"  # supervised | gan: picks the sections a config has
    seed: int = setting(0, rule=SEED)  # seed of init, shuffling and dropout
    epochs: int = setting(50, rule=POSITIVE)  # passes over the training split
    batch_size: int = setting(64, rule=NON_NEGATIVE)  # 0 = full batch
    ragged: str = setting("pad", choices=RAGGED)  # last partial batch
    precision: str = setting("float32", choices=PRECISIONS)  # compute dtype
    fuse_steps: int = setting(0, rule=NON_NEGATIVE)  # per dispatch; 0 = auto
    eval_batch_size: int = setting(1024, rule=POSITIVE)  # jitted evaluation
    checkpoint_every: int = setting(0, rule=NON_NEGATIVE)  # epochs; 0 = final only
    checkpoint_every_steps: int = setting(0, rule=NON_NEGATIVE)  # steps; 0 = off
    keep_checkpoints: int = setting(0, rule=NON_NEGATIVE)  # newest kept; 0 = all
    on_nonfinite: str = setting("stop", choices=numerics.MODES)  # NaN/Inf: stop | skip
    tensorboard: bool = False  # also write scalars to RUN/tensorboard/
    tensorboard_every_steps: int = setting(  # per-step train loss every N; 0 = off
        0, rule=NON_NEGATIVE, read_if=("tensorboard", (True,))
    )
    # JAX's persistent compilation cache (`jnn.runs.compile_cache`): a
    # directory, shared by runs; "" = off.
    compilation_cache: str = ""
    # Fine-tuning: a run directory whose params and state start this run
    # ("" = a fresh init); the optimizer and position start afresh.
    init_from: str = ""


@dataclass(frozen=True)
class LossConfig:
    """[loss]: the per-example loss and weight penalties."""

    name: str = setting("sparse_softmax_cross_entropy", choices=losses.NAMES)
    l1: float = setting(0.0, rule=NON_NEGATIVE)  # L1 penalty on weights (not biases)
    l2: float = setting(0.0, rule=NON_NEGATIVE)  # L2 penalty on weights (not biases)


_MONITOR = Rule(
    "as train_* or val_*",
    lambda v: v.startswith(("train_", "val_")),
    "e.g. val_loss, val_accuracy or train_loss",
)


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """[early_stopping]: stop when a monitored metric stops improving."""

    enabled: bool = False  # stop when `monitor` stops improving
    monitor: str = setting("val_loss", rule=_MONITOR)  # val_loss | train_loss | ...
    mode: str = setting("auto", choices=MODES)  # auto: max for accuracy, else min
    patience: int = setting(10, rule=NON_NEGATIVE)  # epochs without improvement
    min_delta: float = setting(0.0, rule=NON_NEGATIVE)  # smallest improvement
    restore_best: bool = True  # end with the best epoch's params


def monitor_needs_val(cfg, path: str = "") -> Problem | None:
    """Early stopping on a val_* metric needs a validation split.

    A data source without `val_fraction` (xor: its 4 points are train, val
    and test at once) always has one.
    """
    del path  # a relation of the whole config
    es = cfg.early_stopping
    needs_val = es.enabled and es.monitor.startswith("val_")
    if not needs_val or getattr(cfg.data, "val_fraction", None) != 0:
        return None
    return Problem(
        ("early_stopping.monitor", "data.val_fraction"),
        f"`data.val_fraction` > 0 to monitor {es.monitor!r}",
        "0.0",
        "hold out data or monitor a train_* metric",
    )
