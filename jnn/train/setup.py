"""Turn a `Config` into the pieces of a run: data, model, loss, optimizer.

`fit` and `evaluate` both start here, so a saved run is always rebuilt exactly
as it was trained.
"""

from typing import NamedTuple

import jax
import optax

from jnn import _checks, data, losses, metrics, models, penalties
from jnn._types import Layer
from jnn.config import Config
from jnn.data import augment
from jnn.layers import output_spec
from jnn.train import batches, optim
from jnn.train.state import TrainState, create
from jnn.train.step import make_eval_step, make_train_step


class Setup(NamedTuple):
    splits: data.Splits
    model: Layer
    loss_fn: object  # per-example loss
    metrics: dict  # name -> per-example metric
    optimizer: optax.GradientTransformation
    schedule: optax.Schedule  # step -> learning rate
    batch_size: int  # resolved (0 = full batch becomes the split size)
    steps_per_epoch: int
    eval_batch_size: int
    augment: object  # augment(key, x) -> x inside the step, or None


def build(cfg: Config) -> Setup:
    """Load data and build model, loss, metrics and optimizer from `cfg`."""
    splits = data.load(cfg.data)
    n_train = len(splits.train.x)
    batch_size = batches.resolve_batch_size(cfg.train.batch_size, n_train)
    steps = batches.num_batches(n_train, batch_size, cfg.train.ragged)
    largest = max(len(s.x) for s in (splits.train, splits.val, splits.test))
    return Setup(
        splits=splits,
        model=models.from_config(cfg.model, _out_features(splits, cfg)),
        loss_fn=losses.get(cfg.loss.name),
        metrics=_metrics(cfg),
        optimizer=optim.build(cfg.optim, steps * cfg.train.epochs),
        schedule=optim.schedule(cfg.optim, steps * cfg.train.epochs),
        batch_size=batch_size,
        steps_per_epoch=steps,
        eval_batch_size=min(cfg.train.eval_batch_size, largest),
        augment=_augment(cfg, splits),
    )


def _out_features(splits: data.Splits, cfg: Config) -> int:
    if splits.num_classes is not None:
        return splits.num_classes
    y = splits.train.y
    if y.ndim != 2:
        raise _checks.value_error(
            "setup", "regression targets of shape (N, F)", f"shape {y.shape}"
        )
    return y.shape[1]


def _augment(cfg: Config, splits: data.Splits):
    fn = augment.make(cfg.data.augment_shift, cfg.data.augment_flip)
    if fn is not None and splits.train.x.ndim != 4:
        raise _checks.value_error(
            "setup",
            "image data (N, H, W, C) for `data.augment_shift` / `data.augment_flip`",
            f"shape {_checks.fmt_shape(splits.train.x.shape)}",
        )
    return fn


def _metrics(cfg: Config) -> dict:
    if cfg.loss.name in losses.CLASSIFICATION:
        return {"accuracy": metrics.accuracy}
    return {}


def _penalty(cfg: Config):
    """The weight penalty of the objective, with only its non-zero terms."""
    terms = [
        (c, fn)
        for c, fn in ((cfg.loss.l1, penalties.l1), (cfg.loss.l2, penalties.l2))
        if c
    ]
    if not terms:
        return None
    return lambda params: sum(c * fn(params) for c, fn in terms)


def initial_state(setup: Setup, seed: int) -> TrainState:
    """A fresh `TrainState` for `setup`, checked against the data's targets."""
    x = setup.splits.train.x
    x_spec = jax.ShapeDtypeStruct((setup.batch_size, *x.shape[1:]), x.dtype)
    ts = create(setup.model, setup.optimizer, jax.random.key(seed), x_spec)
    _check_output(setup, ts, x_spec)
    return ts


def _check_output(setup: Setup, ts: TrainState, x_spec) -> None:
    out = output_spec(setup.model, ts.params, ts.state, x_spec)
    y = setup.splits.train.y
    want = (setup.splits.num_classes,) if setup.splits.num_classes else y.shape[1:]
    if tuple(out.shape[1:]) != tuple(want):
        raise _checks.value_error(
            "model",
            f"outputs of shape (B, {', '.join(map(str, want))}) to match the data",
            f"{_checks.fmt_shape(out.shape)}",
            "the last layer of `model.layers` must have one output per class/target",
        )


def jitted_steps(setup: Setup, cfg: Config):
    """The jitted train step (state donated) and eval step for `setup`."""
    train_step = make_train_step(
        setup.model,
        setup.loss_fn,
        setup.optimizer,
        penalty=_penalty(cfg),
        metrics=setup.metrics,
        augment=setup.augment,
    )
    eval_step = make_eval_step(setup.model, setup.loss_fn, setup.metrics)
    return jax.jit(train_step, donate_argnums=0), jax.jit(eval_step)
