"""Turn a `Config` into the pieces of a run: data, model, loss, optimizer.

`fit` and `evaluate` both start here, so a saved run is always rebuilt exactly
as it was trained.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn import _checks, data, losses, metrics, models, penalties
from jnn import params as params_lib
from jnn._types import Layer
from jnn.config import Config
from jnn.data import augment, text
from jnn.layers import output_spec
from jnn.train import batches, optim
from jnn.train.state import TrainState


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
    _check_loss(cfg, splits)
    n_train = len(splits.train.x)
    batch_size = batches.resolve_batch_size(cfg.train.batch_size, n_train)
    steps = batches.num_batches(n_train, batch_size, cfg.train.ragged)
    largest = max(len(s.x) for s in (splits.train, splits.val, splits.test))
    return Setup(
        splits=splits,
        model=models.from_config(cfg.model, _out_features(splits, cfg)),
        loss_fn=losses.get(cfg.loss.name),
        metrics=_metrics(cfg, splits),
        optimizer=optim.build(cfg.optim, steps * cfg.train.epochs),
        schedule=optim.schedule(cfg.optim, steps * cfg.train.epochs),
        batch_size=batch_size,
        steps_per_epoch=steps,
        eval_batch_size=min(cfg.train.eval_batch_size, largest),
        augment=_augment(cfg, splits),
    )


def _check_loss(cfg: Config, splits: data.Splits) -> None:
    """Class labels need a label loss and float targets a regression loss.

    Checked on the host before tracing: otherwise the mismatch surfaces as a
    shape error inside the jitted loss, far from the config that caused it.
    """
    labels = splits.num_classes is not None
    if labels == (cfg.loss.name in losses.CLASSIFICATION):
        return
    if labels:
        want = (
            f"a loss for integer class labels, one of {sorted(losses.CLASSIFICATION)}"
        )
        hint = f"data {cfg.data.name!r} has {splits.num_classes} classes"
    else:
        want = "a loss for float regression targets, e.g. 'mse' or 'huber'"
        hint = f"data {cfg.data.name!r} has float targets, not class labels"
    raise _checks.value_error(
        "setup", f"`loss.name` to be {want}", repr(cfg.loss.name), hint
    )


def input_spec(setup: Setup) -> jax.ShapeDtypeStruct:
    """The shape and dtype of one training batch of inputs."""
    x = setup.splits.train.x
    return jax.ShapeDtypeStruct((setup.batch_size, *x.shape[1:]), x.dtype)


def check_params(setup: Setup, params, where: str) -> None:
    """Raise before any tracing unless `params` fit `setup.model` (see
    `jnn.params.check_params`), naming every differing key path."""
    params_lib.check_params(setup.model, params, input_spec(setup), where=where)


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
    # Only image sources have the augment fields (see jnn.data.config).
    shift = getattr(cfg.data, "augment_shift", 0)
    fn = augment.make(shift, getattr(cfg.data, "augment_flip", False))
    if fn is not None and splits.train.x.ndim != 4:
        raise _checks.value_error(
            "setup",
            "image data (N, H, W, C) for `data.augment_shift` / `data.augment_flip`",
            f"shape {_checks.fmt_shape(splits.train.x.shape)}",
        )
    return fn


def _metrics(cfg: Config, splits: data.Splits) -> dict:
    if cfg.data.name == "text" and cfg.loss.name == "sparse_softmax_cross_entropy":
        return {"accuracy": metrics.accuracy, **_text_metrics(splits)}
    if cfg.loss.name in losses.CLASSIFICATION:
        return {"accuracy": metrics.accuracy}
    return {}


def _text_metrics(splits: data.Splits) -> dict:
    """Bits per character of the model and, beside it, of the train unigram
    (add-one smoothed) on the same characters: the baseline to beat."""
    log_probs = jnp.asarray(text.unigram_log_probs(splits.train.y, splits.num_classes))
    return {
        "bits_per_char": lambda out, y: text.bits(
            losses.sparse_softmax_cross_entropy(out, y)
        ),
        "unigram_bits_per_char": lambda out, y: text.bits(-log_probs[y]),
    }


def penalty(cfg: Config):
    """The weight penalty of the objective, with only its non-zero terms."""
    terms = [
        (c, fn)
        for c, fn in ((cfg.loss.l1, penalties.l1), (cfg.loss.l2, penalties.l2))
        if c
    ]
    if not terms:
        return None
    return lambda params: sum(c * fn(params) for c, fn in terms)


def fine_tune(setup: Setup, ts: TrainState, path: str) -> TrainState:
    """`ts` with the params and state of run `path` and a fresh optimizer.

    Raises:
      ValueError: naming every differing key path if that run's model does
        not fit this one (see `check_params`).
      FileNotFoundError: if `path` holds no checkpoint.
    """
    from jnn.runs.restore import load_run  # lazy: restore imports the tasks

    loaded = load_run(path)
    check_params(setup, loaded.params, f"train.init_from '{path}'")
    opt_state = setup.optimizer.init(loaded.params)
    return ts._replace(params=loaded.params, state=loaded.state, opt_state=opt_state)


def check_output(setup: Setup, ts: TrainState) -> None:
    """Raise before training unless the model's outputs fit the data's targets."""
    out = output_spec(setup.model, ts.params, ts.state, input_spec(setup))
    y = setup.splits.train.y
    classes = setup.splits.num_classes
    want = (*y.shape[1:], classes) if classes else y.shape[1:]  # per step for text
    if tuple(out.shape[1:]) != tuple(want):
        raise _checks.value_error(
            "model",
            f"outputs of shape (B, {', '.join(map(str, want))}) to match the data",
            f"{_checks.fmt_shape(out.shape)}",
            "the last layer of `model.layers` must have one output per class/target",
        )
